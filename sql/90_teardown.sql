-- Teardown: everything a run created, in reverse order. Every statement is IF EXISTS and names are
-- fully qualified (no USE DATABASE, which fails once the database is gone), so that it can run at
-- any point of a half-built stack, and again. Each part runs as the role that owns its objects.
-- Left in place on purpose: the shared ingress security integration and SYSADMIN's
-- BIND SERVICE ENDPOINT (account-wide, other runs use them).
-- Variables: database, schema, milvus_service, jupyter_service, milvus_pool, jupyter_pool,
-- integration, warehouse, user, outsider, role.
USE ROLE SYSADMIN;

-- Services before pools. FORCE: Milvus has a block volume, which plain DROP SERVICE refuses to drop.
DROP SERVICE IF EXISTS <% database %>.<% schema %>.<% jupyter_service %> FORCE;
DROP SERVICE IF EXISTS <% database %>.<% schema %>.<% milvus_service %> FORCE;

-- DROP COMPUTE POOL fails while services run: STOP ALL drops anything still there (safety net).
ALTER COMPUTE POOL IF EXISTS <% jupyter_pool %> STOP ALL;
DROP COMPUTE POOL IF EXISTS <% jupyter_pool %>;
ALTER COMPUTE POOL IF EXISTS <% milvus_pool %> STOP ALL;
DROP COMPUTE POOL IF EXISTS <% milvus_pool %>;

USE ROLE ACCOUNTADMIN;
DROP EXTERNAL ACCESS INTEGRATION IF EXISTS <% integration %>;

USE ROLE SYSADMIN;
-- The database takes the image repository, the stages, the network rule and any secret with it.
DROP DATABASE IF EXISTS <% database %>;
DROP WAREHOUSE IF EXISTS <% warehouse %>;

USE ROLE USERADMIN;
DROP USER IF EXISTS <% user %>;
-- The ingress suite's user without endpoint access (sql/suites/ingress_outsider.sql).
DROP USER IF EXISTS <% outsider %>;
DROP ROLE IF EXISTS <% role %>;
