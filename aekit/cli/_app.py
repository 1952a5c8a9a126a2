"""The typer applications; command modules register themselves on them."""

import typer

app = typer.Typer(
    name="aekit",
    help="Representation learning: PCA, ICA, SFA, manifold learning and autoencoders.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
fit_app = typer.Typer(help="Fit a classical or manifold estimator on a dataset and write a run folder.", no_args_is_help=True)
app.add_typer(fit_app, name="fit")
