#!/usr/bin/python3
"""A test server for lab/loadgen_latency_and_loss.sh: echoes on every
connection except the sixth, which it reads and never answers."""
import asyncio, sys
count = 0
async def serve(reader, writer):
    global count
    mine = count; count += 1
    while True:
        data = await reader.read(65536)
        if not data: break
        if mine != 5:
            writer.write(data); await writer.drain()
    writer.close()
async def main():
    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    print("listening 127.0.0.1:%d" % srv.sockets[0].getsockname()[1], flush=True)
    await srv.serve_forever()
asyncio.run(main())
