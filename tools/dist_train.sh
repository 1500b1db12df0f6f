#!/usr/bin/env bash
# Train with NUM_PROCESSES processes on this machine (torchrun): one per GPU with nccl, or CPU
# processes with gloo when there is no GPU.
#   tools/dist_train.sh CONFIG NUM_PROCESSES [train.py options]
# Several machines: run this on each with NNODES, NODE_RANK, MASTER_ADDR (and MASTER_PORT) set.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG NUM_PROCESSES [tools/train.py options]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-${MASTER_PORT:-29500}}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
# Split the CPU cores between the processes instead of each taking all of them.
if [ -z "${OMP_NUM_THREADS:-}" ]; then
    CORES=$(nproc)
    export OMP_NUM_THREADS=$(( CORES / NPROC > 0 ? CORES / NPROC : 1 ))
fi
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHONPATH="$HERE/..${PYTHONPATH:+:$PYTHONPATH}" \
python -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" --master_port="$PORT" \
    "$HERE/train.py" "$CONFIG" --launcher pytorch "${@:3}"
