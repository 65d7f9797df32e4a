-- Matrix: encrypted messages waiting for their room key, one row each. A row is written when
-- such a message arrives and deleted when it is decrypted or given up; before, the whole list
-- was rewritten with every sync token (megabytes on every sync under a flood of them).
-- A message waits for the eyes of one device: rows of another device are dropped at start.
CREATE TABLE undecrypted_messages (
    event_id   TEXT PRIMARY KEY,
    device_id  TEXT NOT NULL,
    room_id    TEXT NOT NULL,
    sender     TEXT NOT NULL,
    session_id TEXT NOT NULL,
    sender_key TEXT NOT NULL,
    -- The event as the homeserver sent it (ciphertext only), JSON.
    source     TEXT NOT NULL,
    since      TEXT NOT NULL
);

CREATE INDEX undecrypted_messages_sender ON undecrypted_messages (sender);

-- What waited in the old list moves here (for the device the list was kept for).
INSERT OR IGNORE INTO undecrypted_messages
    (event_id, device_id, room_id, sender, session_id, sender_key, source, since)
SELECT json_extract(item.value, '$.source.event_id'),
       device.value,
       json_extract(item.value, '$.room_id'),
       json_extract(item.value, '$.source.sender'),
       json_extract(item.value, '$.source.content.session_id'),
       json_extract(item.value, '$.source.content.sender_key'),
       json_extract(item.value, '$.source'),
       json_extract(item.value, '$.since')
FROM platform_state AS waits
JOIN platform_state AS device ON device.platform = 'matrix' AND device.key = 'device_id'
JOIN json_each(CASE WHEN json_valid(waits.value) THEN waits.value ELSE '[]' END) AS item
WHERE waits.platform = 'matrix' AND waits.key = 'undecrypted'
  AND json_type(item.value, '$.source') = 'object'
  AND json_type(item.value, '$.source.event_id') = 'text'
  AND json_type(item.value, '$.room_id') = 'text'
  AND json_type(item.value, '$.source.sender') = 'text'
  AND json_type(item.value, '$.source.content.session_id') = 'text'
  AND json_type(item.value, '$.source.content.sender_key') = 'text'
  AND json_type(item.value, '$.since') = 'text';

DELETE FROM platform_state WHERE platform = 'matrix' AND key = 'undecrypted';
