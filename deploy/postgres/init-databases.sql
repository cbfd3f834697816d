-- One database per service (products uses MongoDB in compose, but keeps a
-- database here so it can be switched back to PostgreSQL by one variable).
CREATE DATABASE users;
CREATE DATABASE products;
CREATE DATABASE orders;
CREATE DATABASE payments;
