"""The runtime partitions of runtime_digest, added from the runtime matrix of each watched pipeline's SHA."""

import dagster as dg

runtime_partitions = dg.DynamicPartitionsDefinition(name="runtime")
