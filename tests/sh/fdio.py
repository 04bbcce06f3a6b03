#!/usr/bin/env python3
"""Tiny I/O helper for the shell tests: does one system call and prints its result.

  fdio.py write PATH TEXT        open(PATH, O_WRONLY|O_TRUNC), one write(TEXT): OK or ERRNO
  fdio.py write-stdin PATH       the same with the bytes on stdin (binary, oversized input)
  fdio.py pread FD OFFSET LEN    pread on an inherited descriptor: sha256 of the data or ERRNO
  fdio.py pwrite FD OFFSET       pwrite of stdin on an inherited descriptor: OK or ERRNO
  fdio.py open PATH MODE         open(PATH, r|w): OK or ERRNO

ERRNO is the symbolic name (EKEYREVOKED, EINVAL, ...). Exit status is 0 either way: the
caller compares the printed result.
"""
import errno
import hashlib
import os
import sys


def main(argv):
    cmd = argv[1]
    try:
        if cmd in ("write", "write-stdin"):
            data = argv[3].encode() if cmd == "write" else sys.stdin.buffer.read()
            fd = os.open(argv[2], os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            print("OK")
        elif cmd == "pread":
            data = os.pread(int(argv[2]), int(argv[4]), int(argv[3]))
            print(hashlib.sha256(data).hexdigest())
        elif cmd == "pwrite":
            os.pwrite(int(argv[2]), sys.stdin.buffer.read(), int(argv[3]))
            print("OK")
        elif cmd == "open":
            flags = os.O_RDONLY if argv[3] == "r" else os.O_WRONLY
            os.close(os.open(argv[2], flags))
            print("OK")
        else:
            print(f"unknown command {cmd}", file=sys.stderr)
            return 2
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
