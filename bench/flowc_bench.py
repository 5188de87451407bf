#!/usr/bin/env python3
"""Benchmarks of the compile side and the engine, run by hand (never in CI):

  python3 bench/flowc_bench.py [--flowc build-release/tools/flowc] [--runs 7]

1. `flowc check` on a generated file of about 10,000 lines (many workflows, states,
   handlers, expressions): median wall time of --runs runs.
2. Engine throughput through `flowc simulate` on the campaign example with 100,000
   instances (each started, then confirmed or rejected; every 10th event a duplicate):
   median events/s, where the time includes reading the scenario and printing every line.
3. `flowc check` on one workflow grown to N vars, N states and a start handler of N
   assignments and N lets, for each N of --sizes: the time should grow in step with N.
4. A timer chain that grows a list, for each length N of --chains: `after 0s` re-enters its
   state N times, each firing appending to a list var (`items = append(items, n)`); the time
   should grow in step with N. With --baseline OTHER_FLOWC, both binaries run alternately.
Inputs are generated in a temporary folder; nothing is written to the repository.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def generate_flow(path, target_lines=10000):
    lines = []
    w = 0
    while len(lines) < target_lines:
        w += 1
        lines += [
            f"event Opened{w} {{ id: string, amount: number, tags: list<string>, note?: string }}",
            f"event Step{w} {{ id: string, n: int }}",
            f"event Closed{w} {{ id: string }}",
            f"command Notify{w} to notifications{w % 7} {{ id: string, text: string, total: number }}",
            f"command Undo{w} to undo {{ id: string, n: int }}",
            f"workflow Flow{w} {{",
            "  key id: string",
            "  var total: number = 0",
            "  var steps: int = 0",
            "  var label: string = \"\"",
            f"  start on Opened{w} as o when o.amount > 0 {{",
            "    total = o.amount * 1.2 + len(o.tags)",
            "    label = upper(o.note ?? \"none\") + \"-\" + str(len(o.tags))",
            "    goto S0",
            "  }",
        ]
        for s in range(8):
            nxt = f"S{s + 1}" if s < 7 else "S0"
            lines += [
                f"  state S{s} {{",
                "    entry {",
                f"      steps = steps + {s + 1}",
                "    }",
                f"    on Step{w} as e when e.n % 2 == 0 and steps < 1000 {{",
                f"      compensate with Undo{w} {{ id: key, n: e.n }}",
                f"      emit Notify{w} {{ id: key, text: label + str(e.n * {s} - steps), total: total }}",
                f"      goto {nxt}",
                "    }",
                f"    on Step{w} as e {{",
                "      if e.n > 100 { fail \"too far: \" + str(e.n) } else if e.n < 0 { compensate cancel }",
                "      total = max(total, e.n / 2)",
                "    }",
                f"    after {s + 1}h {{ goto {nxt} }}",
                "  }",
            ]
        lines += [f"  on Closed{w} {{ compensate complete }}", "}", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return len(lines)


def generate_one_big_workflow(path, n):
    """One workflow of n vars, n states and a start handler of n assignments and n lets."""
    lines = ["event E { id: string, n: int }", "workflow Big {", "  key id: string"]
    lines += [f"  var v{i}: int = {i}" for i in range(n)]
    lines.append("  start on E as e {")
    lines += [f"    v{i} = v{i} + e.n" for i in range(n)]
    lines += [f"    let l{i} = " + ("e.n" if i == 0 else f"l{i - 1} + 1") for i in range(n)]
    lines += [f"    v0 = l{n - 1}", "    goto S0", "  }"]
    lines += [f"  state S{i} {{ on E {{ goto S{i + 1} }} }}" for i in range(n - 1)]
    lines += [f"  state S{n - 1} {{ on E {{ complete }} }}", "}", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return len(lines)


def generate_growing_chain(flow_path, events_path, n):
    """One instance whose `after 0s` fires n times, appending to a list at each firing."""
    with open(flow_path, "w") as f:
        f.write("event Go { id: string }\n"
                "workflow Grow {\n  key id: string\n  var n: int = 0\n  var items: list<int> = []\n"
                "  start on Go { goto Growing }\n"
                "  state Growing {\n"
                f"    after 0s {{ n = n + 1 items = append(items, n) if n < {n} {{ goto Growing }} else {{ goto Grown }} }}\n"
                "  }\n  state Grown { on Go { complete } }\n}\n")
    with open(events_path, "w") as f:
        f.write(json.dumps({"id": "1", "type": "Go", "time": "2026-01-01T00:00:00Z", "data": {"id": "a"}}) + "\n")


def generate_campaign(path, instances=100000):
    events = 0
    with open(path, "w") as f:
        for i in range(instances):
            event = {"id": f"a{i}", "type": "CampaignActivated",
                     "data": {"campaignId": f"c{i}", "advertising": f"banner {i}"}}
            if i == 0:
                event["time"] = "2026-06-01T08:00:00Z"  # the clock starts here; later events tick by 1 s
            f.write(json.dumps(event) + "\n")
            events += 1
        for i in range(instances):
            key = f"c{i}"
            if i % 2:
                f.write(json.dumps({"id": f"r{i}", "type": "PublishingConfirmed", "data": {"campaignId": key, "confirmationId": f"x{i}"}}) + "\n")
            else:
                f.write(json.dumps({"id": f"r{i}", "type": "PublishingRejected", "data": {"campaignId": key, "reason": "no"}}) + "\n")
            events += 1
            if i % 10 == 0:
                f.write(json.dumps({"id": f"r{i}", "type": "PublishingRejected", "data": {"campaignId": key, "reason": "no"}}) + "\n")
                events += 1
    return events


def timed(cmd, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed: {result.stderr.decode()[:500]}")
    return statistics.median(times), min(times), max(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--flowc", default=os.path.join(ROOT, "build-release", "tools", "flowc"))
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", default="5000,10000,20000,40000",
                        help="the sizes N of the one-workflow scaling rows; empty for none")
    parser.add_argument("--chains", default="1000,2000,4000,8000",
                        help="the lengths N of the growing timer chain rows; empty for none")
    parser.add_argument("--baseline", help="another flowc to time alternately in the timer chain rows")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big = os.path.join(tmp, "big.flow")
        n_lines = generate_flow(big)
        med, lo, hi = timed([args.flowc, "check", big], args.runs)
        print(f"| flowc check, generated file of {n_lines} lines | median {med * 1000:.0f} ms (min {lo * 1000:.0f}, max {hi * 1000:.0f}) |")
        scenario = os.path.join(tmp, "campaign.events.jsonl")
        n_events = generate_campaign(scenario)
        flow = os.path.join(ROOT, "examples", "campaign_publishing.flow")
        med, lo, hi = timed([args.flowc, "simulate", flow, "--events", scenario], max(3, args.runs // 2))
        print(f"| flowc simulate, campaign, 100,000 instances, {n_events} events | median {n_events / med:,.0f} events/s "
              f"({med:.2f} s; min {lo:.2f}, max {hi:.2f}) |")
        for n in [int(size) for size in args.sizes.split(",") if size]:
            one = os.path.join(tmp, f"one{n}.flow")
            n_lines = generate_one_big_workflow(one, n)
            med, lo, hi = timed([args.flowc, "check", one], max(3, args.runs // 2))
            print(f"| flowc check, one workflow of {n:,} vars, states and lets ({n_lines:,} lines) | "
                  f"median {med * 1000:.0f} ms (min {lo * 1000:.0f}, max {hi * 1000:.0f}); {med * 1e6 / n:.1f} µs per N |")
        binaries = [args.flowc] + ([args.baseline] if args.baseline else [])
        for n in [int(size) for size in args.chains.split(",") if size]:
            flow, events = os.path.join(tmp, f"chain{n}.flow"), os.path.join(tmp, f"chain{n}.jsonl")
            generate_growing_chain(flow, events, n)
            times = {binary: [] for binary in binaries}
            for _ in range(max(3, args.runs // 2)):
                for binary in binaries:  # alternately, so that the host's noise falls on both
                    times[binary].append(timed([binary, "simulate", flow, "--events", events], 1)[0])
            cells = [f"{statistics.median(times[b]) * 1000:.1f} ms ({statistics.median(times[b]) * 1e6 / n:.2f} µs per firing)"
                     for b in binaries]
            ratio = f" | {statistics.median(times[binaries[1]]) / statistics.median(times[binaries[0]]):.1f}×" if args.baseline else ""
            print(f"| flowc simulate, a timer chain appending to a list, {n:,} firings | " + " | ".join(cells) + ratio + " |")


if __name__ == "__main__":
    main()
