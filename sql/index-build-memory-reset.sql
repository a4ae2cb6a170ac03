-- Back to the server's maintenance_work_mem once the build ends: the connection returns to a pool.
RESET maintenance_work_mem
