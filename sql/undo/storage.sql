-- Undoes step storage: drops the run's database (with its repository, stages, rule) and warehouse. Everything IF EXISTS: safe on half-built stacks.
USE ROLE SYSADMIN;
DROP DATABASE IF EXISTS <% database %>;
DROP WAREHOUSE IF EXISTS <% warehouse %>;
