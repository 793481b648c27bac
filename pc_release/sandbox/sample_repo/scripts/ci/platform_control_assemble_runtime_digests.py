#!/usr/bin/env python3
"""Digest fan-in (job platform_control_assemble_runtime_digests): every runtime the release profile
publishes must have reported its digest through its publish job's dotenv report; writes them all to
runtime-digests.env for the deploy and remote-validation stages."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from platform_control_ci import digest_variable, fail, publish_filters, release_profile, runtimes, write_dotenv

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def main() -> int:
    profile = release_profile()
    filters = publish_filters()
    expected = [runtime for runtime in runtimes(profile) if runtime not in filters]
    for runtime in sorted(set(runtimes(profile)) & set(filters)):
        print(f"fan-in: {runtime} not published on purpose: {filters[runtime]}")
    print(f"fan-in: profile {profile} expects digests for {', '.join(expected)}")
    digests, missing = {}, []
    for runtime in expected:
        variable = digest_variable(runtime)
        value = os.environ.get(variable, "")
        if DIGEST.fullmatch(value):
            digests[variable] = value
            print(f"fan-in: {runtime} {value}")
        else:
            missing.append(f"{runtime} ({variable}={value!r})" if value else f"{runtime} ({variable} unset)")
    if missing:
        fail(
            "missing runtime digest for: " + ", ".join(missing) + ". Update the runtime matrix, the publish "
            "job graph and this fan-in together."
        )
    write_dotenv(Path("runtime-digests.env"), digests)
    print(f"fan-in: wrote runtime-digests.env with {len(digests)} digests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
