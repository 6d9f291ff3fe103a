-- Python-owned schemas. dbt owns staging, intermediate and marts.
create extension if not exists vector;
create schema if not exists raw;
create schema if not exists kb;
create schema if not exists assistant;
