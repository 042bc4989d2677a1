/// Router process logic (HTTP API, scheduling, cluster membership, storage) lands here.
