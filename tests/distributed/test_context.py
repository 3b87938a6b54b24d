import pytest
import torch

from corrrelax_lib.distributed.context import DistributedContext


def test_without_torchrun_variables_the_process_is_the_whole_job():
    context = DistributedContext.from_env({}, backend="gloo")
    assert (context.rank, context.world_size, context.local_rank) == (0, 1, 0)
    assert context.is_main and not context.is_distributed and context.device == torch.device("cpu")
    with context:  # no process group for one process; the barrier is a no-op
        context.barrier()
    assert not torch.distributed.is_initialized()


def test_torchrun_variables_give_rank_world_size_and_local_rank():
    context = DistributedContext.from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}, backend="nccl")
    assert (context.rank, context.world_size, context.local_rank) == (3, 4, 1)
    assert context.is_distributed and not context.is_main
    assert context.device == torch.device("cuda", 1)


def test_backend_defaults_to_nccl_only_with_cuda():
    expected = "nccl" if torch.cuda.is_available() else "gloo"
    assert DistributedContext.from_env({}).backend == expected


@pytest.mark.parametrize(("environ", "message"), [
    ({"RANK": "0", "WORLD_SIZE": "2"}, r"incomplete: \['LOCAL_RANK'\] unset"),
    ({"RANK": "x", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}, "must be integers"),
    ({"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}, r"rank 2 is not in \[0, world_size=2\)"),
])
def test_inconsistent_environment_is_refused(environ, message):
    with pytest.raises(ValueError, match=message):
        DistributedContext.from_env(environ, backend="gloo")


def test_unknown_backend_and_barrier_before_init_are_errors():
    with pytest.raises(ValueError, match="backend"):
        DistributedContext(backend="mpi")
    with pytest.raises(RuntimeError, match="rank 1: barrier before init_process_group"):
        DistributedContext(rank=1, world_size=2, backend="gloo").barrier()
