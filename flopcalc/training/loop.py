"""``flopcalc train``: MobileNet's recipe on any model flopcalc counts, resumable exactly.

SGD with momentum 0.9 and weight decay, cross-entropy, a linear warm-up then a cosine (or
one-cycle, or step) schedule stepped per batch, the source's augmentation, channels-last.
After every epoch, in this order: the checkpoint (model, optimizer, scheduler, RNG, every
epoch's metrics) written atomically, then ``metrics.jsonl`` rewritten from it. So a
run killed at any moment and resumed with ``--resume`` has each epoch in ``metrics.jsonl``
exactly once, and, since every epoch reseeds its shuffling and augmentation from the run's
seed and its own number, ends exactly as an uninterrupted run would.

Under ``torchrun`` (``WORLD_SIZE`` > 1) it trains with DistributedDataParallel (gloo on CPU,
nccl on GPU) and a DistributedSampler; only rank 0 evaluates and writes.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..errors import UserError
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

from ..files import remove_stale_temporaries, write_text
from ..progress import Progress
from . import checkpoint as ckpt
from .data import DataError, DataSource, open_source
from .mix import cutmix, mixed_loss, mixup
from .schedule import SCHEDULES, Recipe, defaults, lr_factor
from .checkpoint import build_model
from .evaluate import evaluate_model
from ..zoo import model_name

@dataclass
class RunConfig:
    model: object                 # a zoo name or a spec file's Family
    data: str
    out: str
    alpha: float = 1.0
    resolution: int | None = None
    small_input: bool | None = None
    recipe: Recipe = field(default_factory=Recipe)
    resume: bool = False
    workers: int = 0
    subset: int | None = None
    channels_last: bool = True    # measured 1.6-3x faster to train on CPU (benchmarks/bench_train.py)
    progress: bool | None = None  # None: a progress line when stderr is a terminal
    threads: int | None = None    # torch threads asked for; None: a resumed run's own, else as set already


@dataclass
class Summary:
    """What a finished run reports: also the line appended to ``results.jsonl``."""

    record: dict


class TrainError(UserError):
    """A run that cannot start (an --out that is a file, an existing run without --resume)."""


def _distributed() -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, torch.device("cpu")
    import torch.distributed as dist
    cuda = torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}") if cuda else torch.device("cpu")
    return rank, world, device


RUN_FILES = ("checkpoint.pt", "metrics.jsonl", "results.jsonl")  # what a run writes into its folder


def _check_out(out: Path, resume: bool) -> None:
    if out.exists() and not out.is_dir():
        raise TrainError(f"--out {str(out)!r} is a file, not a folder; choose a folder for the run")
    if (out / "checkpoint.pt").exists() and not resume:
        raise TrainError(f"--out {str(out)!r} already holds a training run (checkpoint.pt); add --resume to go on "
                         "with it, or choose another --out")


def model_config(cfg: RunConfig, source: DataSource, resolution: int, small: bool) -> dict:
    """Everything a checkpoint needs to rebuild the model and its input pipeline."""
    from ..specfile import write
    family = None if isinstance(cfg.model, str) else write(cfg.model)
    return {"model": model_name(cfg.model), "family": family,
            "alpha": float(cfg.alpha), "num_classes": len(source.classes), "resolution": resolution,
            "small_input": small, "source": source.name, "data": source.text, "classes": list(source.classes),
            "image_size": list(source.image_size) if source.image_size else None,
            "mean": list(source.mean), "std": list(source.std)}


def train(cfg: RunConfig) -> Summary:
    """Train ``cfg.model`` on ``cfg.data`` into ``cfg.out``; return the run's summary."""
    from ..conventions import analyze
    rank, world, device = _distributed()
    out = Path(cfg.out)
    if rank == 0:
        _check_out(out, cfg.resume)
        if cfg.resume:  # a run killed mid-write left its temporary files: this run owns the folder
            for name in RUN_FILES:
                remove_stale_temporaries(out / name)
    source = open_source(cfg.data, cfg.subset)
    recipe = defaults(source, cfg.recipe)
    resolution = cfg.resolution or source.default_resolution()
    small = cfg.small_input if cfg.small_input is not None else resolution <= 64
    config = model_config(cfg, source, resolution, small)
    a = analyze(cfg.model, cfg.alpha, resolution, len(source.classes), small_input=small)

    resumed = None
    path = out / "checkpoint.pt"
    if cfg.resume and path.exists():
        resumed = ckpt.load(path)
        if not ckpt.is_flopcalc(resumed):
            raise ckpt.CheckpointError(f"checkpoint {str(path)!r} is not a flopcalc training checkpoint")
        ckpt.check_same_model(path, resumed["config"], config)
    # a resumed run keeps its thread count, so it ends bit for bit as an uninterrupted run would
    threads = cfg.threads or (resumed or {}).get("threads") or torch.get_num_threads()
    torch.set_num_threads(threads)

    torch.manual_seed(recipe.seed)
    net = build_model(config).to(device)
    if cfg.channels_last:
        net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                          weight_decay=recipe.weight_decay)
    train_set, test_set = source.with_transforms(resolution)
    if world > 1:
        sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=recipe.seed,
                                     drop_last=True)
        batch = max(1, recipe.batch_size // world)
    else:
        sampler, batch = None, recipe.batch_size
    images = len(sampler) if sampler else len(train_set)
    if images < batch:  # every epoch would drop its one partial batch: no step at all
        raise TrainError(f"{images} training images{' per process' if world > 1 else ''} make no whole batch of "
                         f"{batch}: every epoch would train nothing; give --batch-size {images * world} or less"
                         + (", or a larger --subset" if cfg.subset else ""))
    steps_per_epoch = images // batch
    if rank == 0:  # only now that the run can start: a refused run leaves no folder behind
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise TrainError(f"--out {str(out)!r} cannot be created: {e.strerror or e}") from None
    total = steps_per_epoch * recipe.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: lr_factor(recipe.schedule, step, total, recipe.warmup))
    history: list[dict] = []
    start, run_id = 0, uuid.uuid4().hex
    if resumed is not None:
        ckpt.load_weights(net, resumed["model"], path, ckpt.config_line(config))
        opt.load_state_dict(resumed["optimizer"])
        sched.load_state_dict(resumed["scheduler"])
        start, history, run_id = resumed["epoch"], list(resumed["metrics"]), resumed["run"]
        if rank == 0:  # the metrics of exactly the epochs the checkpoint holds
            _write_metrics(out, history)
    model = nn.parallel.DistributedDataParallel(net) if world > 1 else net

    loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    test_loader = DataLoader(test_set, batch_size=256, num_workers=cfg.workers)

    t_run = time.perf_counter()
    for epoch in range(start, recipe.epochs):
        # every epoch's randomness from the seed and the epoch alone: a resumed epoch replays
        epoch_seed = recipe.seed * 1_000_003 + epoch * 7_919 + rank
        torch.manual_seed(epoch_seed)
        if sampler is not None:
            sampler.set_epoch(epoch)
            loader = DataLoader(train_set, batch_size=batch, sampler=sampler, num_workers=cfg.workers,
                                drop_last=True)
        else:
            g = torch.Generator().manual_seed(epoch_seed)
            loader = DataLoader(train_set, batch_size=batch, sampler=RandomSampler(train_set, generator=g),
                                num_workers=cfg.workers, drop_last=True, generator=g)
        model.train()
        bar = Progress(f"epoch {epoch + 1}/{recipe.epochs}", steps_per_epoch, cfg.progress if rank == 0 else False)
        t0 = time.perf_counter()
        seen = correct = 0
        loss_sum = 0.0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            if cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            batch_loss, hits = train_step(model, x, y, loss_fn, opt, sched, recipe.augment)
            seen += len(y)
            correct += hits
            loss_sum += batch_loss
            bar.advance(note=f"loss {loss_sum / seen:.3f}  top1 {correct / seen:.3f}")
        bar.close()
        seconds = time.perf_counter() - t0
        if world > 1:
            import torch.distributed as dist
            stats = torch.tensor([seen, correct, loss_sum], dtype=torch.float64)
            dist.all_reduce(stats)
            seen, correct, loss_sum = int(stats[0]), float(stats[1]), float(stats[2])
        line = {"epoch": epoch + 1, "train_loss": loss_sum / max(1, seen), "train_top1": correct / max(1, seen),
                "lr": opt.param_groups[0]["lr"], "seconds": seconds, "images_per_second": seen / seconds}
        if rank == 0:
            ev = evaluate_model(net, test_loader, cfg.channels_last)
            line.update(test_top1=ev["top1"], test_top5=ev["top5"])
            history.append(line)
            ckpt.save(path, {"config": config, "recipe": asdict(recipe), "model": net.state_dict(),
                             "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                             "epoch": epoch + 1, "rng": torch.get_rng_state(), "metrics": history, "run": run_id,
                             "threads": threads})
            _write_metrics(out, history)
        if world > 1:
            import torch.distributed as dist
            dist.barrier()

    record = {}
    if rank == 0:
        best = max(history, key=lambda m: m["test_top1"]) if history else None
        trained = sum(m["seconds"] for m in history)
        record = {"run": run_id, "model": config["model"], "config": ckpt.json_config(config), "data": source.text,
                  "epochs": recipe.epochs, "recipe": asdict(recipe), "processes": world, "threads": threads,
                  "best_top1": best["test_top1"] if best else None, "best_epoch": best["epoch"] if best else None,
                  "final_top1": history[-1]["test_top1"] if history else None,
                  "final_top5": history[-1]["test_top5"] if history else None,
                  "params": a.total.params, "macs": a.total.macs, "train_seconds": trained,
                  "images_per_second": sum(m["images_per_second"] * m["seconds"] for m in history) / trained
                  if trained else None, "wall_seconds": time.perf_counter() - t_run}
        _append_result(out / "results.jsonl", record)
    if world > 1:
        import torch.distributed as dist
        dist.barrier()
        dist.destroy_process_group()
    return Summary(record)


def train_step(model, x, y, loss_fn, opt, sched, augment: str = "none") -> tuple[float, float]:
    """One optimizer step on the batch ``(x, y)``: forward, loss, gradients from zero, the
    update, the learning-rate schedule's step. Returns the batch's summed loss (the mean loss
    times the batch) and its hits: images whose top class is the label, or under mixup and
    cutmix ``lam`` times the hits on the first labels plus ``1 - lam`` times those on the second."""
    if augment != "none":
        x, y_a, y_b, lam = (mixup if augment == "mixup" else cutmix)(x, y)
        logits = model(x)
        loss = mixed_loss(loss_fn, logits, y_a, y_b, lam)
        pred = logits.argmax(1)
        hits = lam * float((pred == y_a).sum()) + (1 - lam) * float((pred == y_b).sum())
    else:
        logits = model(x)
        loss = loss_fn(logits, y)
        hits = int((logits.argmax(1) == y).sum())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    return float(loss.detach()) * len(y), hits


def _write_metrics(out: Path, history: list[dict]) -> None:
    write_text(out / "metrics.jsonl", "".join(json.dumps(m) + "\n" for m in history))


def _append_result(path: Path, record: dict) -> None:
    """Add ``record`` to a results file, replacing an earlier line of the same run (a run
    resumed after its last epoch), atomically."""
    lines = []
    if path.exists():
        for text in path.read_text().splitlines():
            try:
                if json.loads(text).get("run") != record["run"]:
                    lines.append(text)
            except ValueError:
                lines.append(text)
    lines.append(json.dumps(record))
    write_text(path, "\n".join(lines) + "\n")


__all__ = ["DataError", "Recipe", "RunConfig", "SCHEDULES", "Summary", "TrainError", "train"]
