"""Feature columns appended to an AnnData: what every modality's read-stage step does
(``stages.reading.Featurizer``, ``images_features.with_image_columns``)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp


def append_columns(adata: ad.AnnData, new: pd.DataFrame, name: str) -> ad.AnnData:
    """A new AnnData with ``new``'s numeric columns (rows indexed like ``adata.obs_names``)
    appended to ``X``, ``obs``, ``obsm`` and ``uns`` kept, and a note
    ``featurizer <name>: N column(s) added``. A column already a feature is refused."""
    if not new.index.equals(pd.Index(adata.obs_names)):
        raise ValueError(f"featurizer {name!r}: rows must be indexed by obs_names")
    clash = sorted(set(map(str, new.columns)) & set(map(str, adata.var_names)))
    if clash:
        raise ValueError(f"featurizer {name!r}: column(s) already features: {clash}")
    values, x = new.to_numpy(dtype=float), adata.X
    if sp.issparse(x):
        stacked = sp.hstack([x, sp.csr_matrix(values)]).tocsr()
    else:
        stacked = np.hstack([np.asarray(x, dtype=float).reshape(adata.n_obs, -1), values])
    var = pd.concat([adata.var, pd.DataFrame(index=new.columns.astype(str))])
    out = ad.AnnData(stacked, obs=adata.obs.copy(), var=var, obsm=dict(adata.obsm))
    out.uns.update(adata.uns)
    note = f"featurizer {name}: {new.shape[1]} column(s) added to the features"
    out.uns["notes"] = [*adata.uns.get("notes", []), note]
    return out
