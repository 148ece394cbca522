-- A tenant's generation (issue 36): deleting a tenant bumps it, and it is part of every
-- scope its keys' requests leave data in (cached answers, stored responses, sessions), so a
-- key made later for the same tenant id starts with nothing of the deleted tenant's.
ALTER TABLE tenants ADD COLUMN generation integer NOT NULL DEFAULT 0;
