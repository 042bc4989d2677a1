/// Worker process logic (shard loading, step execution, collectives) lands here.
