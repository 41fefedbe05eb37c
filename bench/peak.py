#!/usr/bin/env python3
"""Peak memory of a command and all its child processes together.

GNU time's %M is one process's peak; zonestat reads workbooks in worker
processes, so the run's memory is the parent's plus the workers'. This runs
the command, samples /proc every millisecond for the process tree (the
command and its descendants) and prints, in MB:

  simultaneous  the largest sum of resident set sizes seen in one sample
  bound         the sum of each process's own peak (VmHWM, last seen), an
                upper bound that no short peak between samples can escape

Usage: python3 bench/peak.py COMMAND [ARGS...]   (output of the command is
discarded; exit status is the command's)
"""
import os
import subprocess
import sys
import time


def status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def children(pid):
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return found


def main():
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
    top, hwm = 0, {}
    while proc.poll() is None:
        tree, todo = [], [proc.pid]
        while todo:
            p = todo.pop()
            tree.append(p)
            todo += children(p)
        total = 0
        for p in tree:
            s = status(p)
            total += s.get("VmRSS", 0)
            if "VmHWM" in s:
                hwm[p] = s["VmHWM"]
        top = max(top, total)
        time.sleep(0.001)
    print(f"simultaneous {top / 1024:.1f} bound {sum(hwm.values()) / 1024:.1f} processes {len(hwm)}")
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
