// The batch subcommands of bounded-run (docs/command.md).
#pragma once

namespace bounded_subprocess::cli {

/// `bounded-run batch ...`; argv[0] is "batch". Returns the exit status: 0
/// when every job of the input (in this shard) has a result line, 128+N
/// after signal N, 125 on bounded-run's own errors.
int batch_main(int argc, char** argv);

/// `bounded-run batch-merge ...`; argv[0] is "batch-merge".
int batch_merge_main(int argc, char** argv);

}  // namespace bounded_subprocess::cli
