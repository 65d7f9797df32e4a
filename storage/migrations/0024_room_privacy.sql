-- An erasure and an export find a person's reported room messages, and the decisions about
-- them, by the account the platform knows them by: also from before they used the bot.
CREATE INDEX room_reports_author_account ON room_reports (author_platform_id);
CREATE INDEX room_sanctions_report ON room_sanctions (report_id) WHERE report_id IS NOT NULL;
