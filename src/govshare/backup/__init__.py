"""Backups and restore (S19, S21): consistent, SM4-GCM encrypted, SM2-signed backup files of the
platform database, the exchange store and the data dir's files; a Bureau policy, scheduled backups
and restore drills, every run on record."""
