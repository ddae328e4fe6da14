"""Configuration: the settings table, `.env` reading and writing, secrets, masking, image pins.

`store.load` reads an existing stack without writing anything; only `store.prepare(...).commit()`
(used by `up` and `render`) writes `.env`.
"""
