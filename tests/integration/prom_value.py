#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Reads a Prometheus text exposition with Debian's python3-prometheus-client parser (an
independent reader of the format: prometheus_client.parser.text_string_to_metric_families).

  prom_value.py FILE check                 exit 0 when the whole file parses (and prints the
                                           number of samples), 1 otherwise
  prom_value.py FILE SAMPLE [LABEL=VALUE]  prints the sum of the values of the samples named
                                           SAMPLE whose labels include every LABEL=VALUE
                                           given (0 when none), as an integer when whole
"""
import sys

from prometheus_client.parser import text_string_to_metric_families


def samples(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    out = []
    for fam in text_string_to_metric_families(text):
        out.extend(fam.samples)
    return out


def main():
    path, what = sys.argv[1], sys.argv[2]
    try:
        got = samples(path)
    except Exception as e:  # the parser raises ValueError and friends on bad input
        print(f"unparsable: {e}", file=sys.stderr)
        return 1
    if what == "check":
        print(len(got))
        return 0
    want = dict(a.split("=", 1) for a in sys.argv[3:])
    total = 0.0
    for s in got:
        if s.name == what and all(s.labels.get(k) == v for k, v in want.items()):
            total += s.value
    print(int(total) if total == int(total) else total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
