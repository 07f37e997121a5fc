"""``insightome images``: image manifests.

* ``insightome images manifest NPZ -o OUT.csv [--splits train,val,test]`` writes the
  manifest of a MedMNIST ``.npz`` (:func:`~insightome.io.images.medmnist_manifest`): one
  row per image with ``id``, ``image`` (``file.npz#train_images/7``, relative to OUT's
  folder, so the manifest can be given to ``insightome run`` as it is), the label(s) and
  ``split``; written atomically.

Domain code (and NumPy's readers, through it) is imported inside the command, so
``insightome --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from insightome.cli.root_command import app, out

__all__ = ["images"]

images = typer.Typer(
    help="Images: manifests of image files (DICOM, NIfTI, PNG/TIFF/JPEG, NumPy).",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: readable at 80 columns (cli/root_command.py)
)


@images.command("manifest")
def manifest_command(
    npz: Annotated[
        Path,
        typer.Argument(
            metavar="NPZ",
            help="A MedMNIST .npz (train_images, train_labels, val_…, test_… arrays).",
        ),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Manifest to write: .csv or .tsv.")
    ],
    splits: Annotated[
        str,
        typer.Option(help="Splits to list, comma-separated, in this order."),
    ] = "train,val,test",
) -> None:
    """Write the manifest of a MedMNIST .npz: one row per image (id, image, label, split)."""
    from insightome import errors
    from insightome.errors import UserError
    from insightome.io.images import medmnist_manifest, write_manifest

    if output.suffix.lower() not in (".csv", ".tsv"):
        raise UserError(errors.IMAGE_MANIFEST_OUTPUT, path=output, suffix=output.suffix)
    chosen = [s.strip() for s in splits.split(",") if s.strip()]
    if not chosen or len(set(chosen)) != len(chosen):
        raise UserError(
            errors.OPTION_INVALID,
            option="--splits",
            reason=f"give distinct split names, comma-separated, e.g. train,val,test (got "
            f"'{splits}')",
        )
    frame = medmnist_manifest(npz, chosen, relative_to=output.absolute().parent)
    write_manifest(frame, output)
    counts = frame["split"].value_counts(sort=False)
    labels = [c for c in frame.columns if c == "label" or c.startswith("label_")]
    label_text = (
        "label: "
        + ", ".join(f"{k} ({n:,})" for k, n in frame["label"].value_counts().sort_index().items())
        if labels == ["label"]
        else f"{len(labels)} label columns ({labels[0]}…{labels[-1]})"
    )
    out.print(
        f"manifest: {len(frame):,} images from {escape(npz.name)} ("
        + ", ".join(f"{split} {int(counts[split]):,}" for split in chosen)
        + f"); {label_text}",
        highlight=False,
        soft_wrap=True,
    )
    out.print(escape(str(output.resolve())), highlight=False, soft_wrap=True)


app.add_typer(images, name="images")
