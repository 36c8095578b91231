#!/usr/bin/python3
"""Opens 10,000 idle connections to 127.0.0.1:PORT, echoes one byte on the
last, writes READY_FILE and sleeps (lab/ci_time_and_aio_stop.sh).
Usage: idle_connections_client.py PORT READY_FILE"""
import socket, sys, time, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (30000, 30000))
port, ready = int(sys.argv[1]), sys.argv[2]
cs = [socket.create_connection(("127.0.0.1", port)) for _ in range(10000)]
cs[-1].send(b"x"); cs[-1].recv(1)
open(ready, "w").write("1")
time.sleep(60)
