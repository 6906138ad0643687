-- Undoes step network: drops the run's external access integration. Everything IF EXISTS: safe on half-built stacks.
USE ROLE ACCOUNTADMIN;
DROP INTEGRATION IF EXISTS <% integration %>;
