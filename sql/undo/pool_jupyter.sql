-- Undoes step pool_jupyter: drops the Jupyter compute pool (STOP ALL first: a pool with services cannot be dropped). Everything IF EXISTS: safe on half-built stacks.
USE ROLE SYSADMIN;
ALTER COMPUTE POOL IF EXISTS <% jupyter_pool %> STOP ALL;
DROP COMPUTE POOL IF EXISTS <% jupyter_pool %>;
