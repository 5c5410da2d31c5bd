# ANCHOR: client
# A TFTP downloader written the way the classic course describes one: struct.pack for
# the read request, struct.unpack('!HH') for the head of each DATA packet, one ACK per
# block sent back to where the DATA came from, and "shorter than 516 bytes" as the end.
#
#   python3 lessons/09-tftp/course_client.py 9009 hello.txt /tmp/hello.txt
#
# Two lines are the lab's, not the course's: the timeout (without it, one lost packet
# leaves recvfrom waiting forever) and the exit code on an ERROR.
import socket
import struct
import sys

port, name, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(10)

# RRQ: opcode 1, the file name, a 0 byte, the mode, a 0 byte.
request = struct.pack('!H%dsb5sb' % len(name), 1, name.encode(), 0, b'octet', 0)
s.sendto(request, ('127.0.0.1', port))

f = open(out, 'wb')
blocks = 0
while True:
    data, addr = s.recvfrom(1024)
    opcode, number = struct.unpack('!HH', data[:4])
    if opcode == 5:
        print('error', number, data[4:-1].decode())
        sys.exit(1)
    f.write(data[4:])
    blocks += 1
    s.sendto(struct.pack('!HH', 4, number), addr)
    if len(data) < 516:
        break
f.close()
print(blocks, 'blocks from port', addr[1] != port and 'a new port' or 'the same port')
# ANCHOR_END: client
