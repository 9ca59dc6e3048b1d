"""Data formats every layer reads and writes: BSON documents walked into columns, decoded
and rendered, and lake parts as parquet bytes. Pure functions, no Prefect, no I/O beyond
bytes in memory: blocks, tasks and the bench all build on them."""
