-- Introducing two residents recorded their user ids in the audit log's detail, where an
-- erasure does not reach them (it pseudonymises the actor and subject columns only). The
-- ideas recorded beside them say what was connected; the ids go.
UPDATE audit_log SET detail = json_remove(detail, '$.users')
WHERE action = 'connection.propose' AND json_extract(detail, '$.users') IS NOT NULL;
