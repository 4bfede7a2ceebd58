-- As migrations/0003_iam_generation_triggers.sql: the one generation row, bumped by every change that
-- can alter which policies bind a user. SQLite's triggers are per row, and so are these (same names).
INSERT INTO "iam_generation" ("id", "value") VALUES (1, 0);
--> statement-breakpoint
-- The identity goes on from the row above, as SQLite's rowid would.
SELECT setval(pg_get_serial_sequence('"iam_generation"', 'id'), 1);
--> statement-breakpoint
CREATE FUNCTION "bump_iam_generation"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "iam_generation" SET "value" = "value" + 1 WHERE "id" = 1;
  RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "policies_insert_bumps_iam_generation" AFTER INSERT ON "policies" FOR EACH ROW EXECUTE FUNCTION "bump_iam_generation"();
--> statement-breakpoint
CREATE TRIGGER "policies_update_bumps_iam_generation" AFTER UPDATE ON "policies" FOR EACH ROW EXECUTE FUNCTION "bump_iam_generation"();
--> statement-breakpoint
CREATE TRIGGER "policies_delete_bumps_iam_generation" AFTER DELETE ON "policies" FOR EACH ROW EXECUTE FUNCTION "bump_iam_generation"();
--> statement-breakpoint
CREATE TRIGGER "policy_attachments_insert_bumps_iam_generation" AFTER INSERT ON "policy_attachments" FOR EACH ROW EXECUTE FUNCTION "bump_iam_generation"();
--> statement-breakpoint
CREATE TRIGGER "policy_attachments_update_bumps_iam_generation" AFTER UPDATE ON "policy_attachments" FOR EACH ROW EXECUTE FUNCTION "bump_iam_generation"();
--> statement-breakpoint
CREATE TRIGGER "policy_attachments_delete_bumps_iam_generation" AFTER DELETE ON "policy_attachments" FOR EACH ROW EXECUTE FUNCTION "bump_iam_generation"();
--> statement-breakpoint
CREATE TRIGGER "group_members_insert_bumps_iam_generation" AFTER INSERT ON "group_members" FOR EACH ROW EXECUTE FUNCTION "bump_iam_generation"();
--> statement-breakpoint
CREATE TRIGGER "group_members_update_bumps_iam_generation" AFTER UPDATE ON "group_members" FOR EACH ROW EXECUTE FUNCTION "bump_iam_generation"();
--> statement-breakpoint
CREATE TRIGGER "group_members_delete_bumps_iam_generation" AFTER DELETE ON "group_members" FOR EACH ROW EXECUTE FUNCTION "bump_iam_generation"();
