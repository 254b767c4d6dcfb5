#!/usr/bin/env python3
# CPU of each of a process's threads over a window, user and kernel apart, from /proc (what JFR's samples miss: the
# kernel's side of sockets and wake-ups, native code). Thread names with their numbers folded (data-plane-kafk... are
# the embedded broker's; "callguard-<uuid>-StreamThread" shows as callguard-... truncated by the kernel to 15 chars).
# Usage: bench/thread-cpu.py PID SECONDS
import collections, os, re, sys, time

pid, secs = sys.argv[1], float(sys.argv[2])
tick = os.sysconf('SC_CLK_TCK')


def snapshot():
    out = {}
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            stat = open(f'/proc/{pid}/task/{tid}/stat').read()
        except OSError:
            continue
        name = stat[stat.index('(') + 1:stat.rindex(')')]
        fields = stat[stat.rindex(')') + 2:].split()
        out[tid] = (name, int(fields[11]), int(fields[12]))
    return out


before = snapshot()
time.sleep(secs)
after = snapshot()
by_name = collections.defaultdict(lambda: [0, 0])
for tid, (name, user, system) in after.items():
    user0, system0 = before[tid][1:] if tid in before else (0, 0)
    key = re.sub(r'\d+', 'N', name)
    by_name[key][0] += user - user0
    by_name[key][1] += system - system0
total_user = sum(v[0] for v in by_name.values())
total_sys = sum(v[1] for v in by_name.values())
print(f"total user {total_user / tick:.2f} s, sys {total_sys / tick:.2f} s over {secs:g} s = "
      f"{(total_user + total_sys) / tick / secs:.2f} cores")
for name, (user, system) in sorted(by_name.items(), key=lambda kv: -sum(kv[1]))[:20]:
    print(f"{(user + system) / tick:7.2f} s  user {user / tick:6.2f}  sys {system / tick:6.2f}  {name}")
