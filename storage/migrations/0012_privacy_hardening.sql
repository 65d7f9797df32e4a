-- Onboarding dialogs kept an invite link's code as it was typed; now only its hash is kept.
-- A code waiting in a half-finished onboarding is dropped (the link still works afterwards).
UPDATE dialogs SET data = json_remove(data, '$.payload')
    WHERE name = 'onboarding' AND json_extract(data, '$.payload') LIKE 'inv\_%' ESCAPE '\';
