-- Who is reached in a chat: when Telegram or Matrix says a chat blocked the bot, the people
-- reached there are marked unreachable. Without this index that read every resident of the
-- platform (0.3 s at a million residents), once for every blocked chat of a broadcast.
CREATE INDEX users_chat ON users (platform, chat_id) WHERE chat_id IS NOT NULL;
