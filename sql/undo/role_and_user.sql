-- Undoes step role_and_user: drops the run's user and role. Everything IF EXISTS: safe on half-built stacks.
USE ROLE USERADMIN;
DROP USER IF EXISTS <% user %>;
DROP ROLE IF EXISTS <% role %>;
