"""A LangGraph checkpointer that writes only while this process holds the run's lease.

LangGraph does not lock a thread: two orchestrators on one run would both write checkpoints, and the later one
silently wins. Around any saver (SqliteSaver, PostgresSaver), FencedSaver checks the run lease before every write,
so an orchestrator whose lease was taken over (it stalled, or lost its database connection while still running)
fails its next checkpoint write with LeaseLost instead of overwriting the new holder's progress. Reads pass
through untouched. A task's writes (put_writes, one per task of a step) trust a confirmation of the lease from
the last moments (RunLease.check_recent); a step's checkpoint (put) asks the database. The check and the write
are two statements (the checkpoints may live in another database), so the fence that cannot race is the shot
ledger's; this one stops a stale orchestrator at its next step.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)

from .lease import RunLease


class FencedSaver(BaseCheckpointSaver):
    def __init__(self, inner: BaseCheckpointSaver, lease: RunLease):
        # no super().__init__(): serde belongs to the inner saver (the property below), not to a copy of it
        self.inner = inner
        self.lease = lease

    @property
    def serde(self):  # noqa: ANN201 - LangGraph's SerializerProtocol
        return self.inner.serde

    @serde.setter
    def serde(self, value) -> None:  # noqa: ANN001
        self.inner.serde = value

    @property
    def config_specs(self) -> list:
        return self.inner.config_specs

    def with_allowlist(self, extra_allowlist: Collection[tuple[str, ...]]) -> BaseCheckpointSaver:
        # LangGraph derives a saver with a stricter deserialiser at compile time: keep the fence on the derived one
        derived = self.inner.with_allowlist(extra_allowlist)
        return self if derived is self.inner else FencedSaver(derived, self.lease)

    async def _acheck(self) -> None:
        await asyncio.to_thread(self.lease.check)  # a database round trip: keep it off the event loop

    # --- reads ------------------------------------------------------------------------------------------------
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.inner.get_tuple(config)

    def list(self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
             before: RunnableConfig | None = None, limit: int | None = None) -> Iterator[CheckpointTuple]:
        return self.inner.list(config, filter=filter, before=before, limit=limit)

    def get_delta_channel_history(self, *, config: RunnableConfig, channels: Sequence[str]) -> Mapping[str, Any]:
        return self.inner.get_delta_channel_history(config=config, channels=channels)

    def get_next_version(self, current: Any, channel: None) -> Any:
        return self.inner.get_next_version(current, channel)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self.inner.aget_tuple(config)

    async def alist(self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
                    before: RunnableConfig | None = None, limit: int | None = None) -> AsyncIterator[CheckpointTuple]:
        async for item in self.inner.alist(config, filter=filter, before=before, limit=limit):
            yield item

    async def aget_delta_channel_history(self, *, config: RunnableConfig,
                                         channels: Sequence[str]) -> Mapping[str, Any]:
        return await self.inner.aget_delta_channel_history(config=config, channels=channels)

    # --- writes: each checks the lease first --------------------------------------------------------------------
    def put(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
            new_versions: ChannelVersions) -> RunnableConfig:
        self.lease.check()
        return self.inner.put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str,
                   task_path: str = "") -> None:
        self.lease.check_recent()  # one per task: a thousand shots are a thousand writes (RunLease.check_recent)
        self.inner.put_writes(config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        self.lease.check()
        self.inner.delete_thread(thread_id)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self.lease.check()
        self.inner.copy_thread(source_thread_id, target_thread_id)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self.lease.check()
        self.inner.delete_for_runs(run_ids)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self.lease.check()
        self.inner.prune(thread_ids, strategy=strategy)

    async def aput(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
                   new_versions: ChannelVersions) -> RunnableConfig:
        await self._acheck()
        return await self.inner.aput(config, checkpoint, metadata, new_versions)

    async def aput_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str,
                          task_path: str = "") -> None:
        await asyncio.to_thread(self.lease.check_recent)
        await self.inner.aput_writes(config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await self._acheck()
        await self.inner.adelete_thread(thread_id)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._acheck()
        await self.inner.acopy_thread(source_thread_id, target_thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._acheck()
        await self.inner.adelete_for_runs(run_ids)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._acheck()
        await self.inner.aprune(thread_ids, strategy=strategy)
