"""Sequential.summary() and its HTML form: rows, output shapes, trainable and non-trainable."""

import re

from fnn.layers import BatchNormalization, Dense, Dropout, Flatten, Input, Reshape
from fnn.models import Sequential
from fnn.summary import summarize, to_html


def model_with_state():
    return Sequential(
        [
            Input((12,)),
            Reshape((3, 4)),
            Flatten(),
            Dense(8, activation="relu"),
            BatchNormalization(),
            Dropout(0.5),
            Dense(2),
        ]
    )


def test_summary_counts_moving_statistics_as_non_trainable(capsys):
    model = model_with_state()
    model.summary()
    out = capsys.readouterr().out
    # Dense 12*8+8 = 104, BN gamma+beta 16 (trainable) + moving mean/variance 16, Dense 8*2+2 = 18
    assert "Total params: 154" in out
    assert "Trainable params: 138" in out
    assert "Non-trainable params: 16" in out
    assert model.count_params() == 154
    rows = {line.split()[0]: line.split() for line in out.splitlines() if "(" in line}
    assert rows["reshape"][-3:] == ["3,", "4)", "0"]
    assert rows["batch_normalization"][-1] == "32"
    assert rows["dense_1"][-3:] == ["(None,", "2)", "18"]


def test_summary_as_data_and_unbuilt_models():
    table = summarize(model_with_state())
    # Keras: Input fixes the input shape and is not a layer of the model (nor a row)
    assert [r[0] for r in table.rows][:3] == [
        "reshape (Reshape)",
        "flatten (Flatten)",
        "dense (Dense)",
    ]
    assert [r[1] for r in table.rows][0:2] == ["(None, 3, 4)", "(None, 12)"]
    assert (table.trainable, table.non_trainable, table.total) == (138, 16, 154)
    lazy = summarize(Sequential([Dense(3), BatchNormalization()]))
    assert [r[1:] for r in lazy.rows] == [("?", "?"), ("?", "?")]
    assert lazy.total == 0


def test_html_repr_is_a_table_with_the_same_content():
    model = model_with_state()
    html = model._repr_html_()
    assert html == to_html(summarize(model))
    assert html.count("<tr>") == 1 + len(model.layers)
    cells = re.findall(r"<td>(.*?)</td>", html)
    assert cells[:3] == ["reshape (Reshape)", "(None, 3, 4)", "0"]
    assert "<td>batch_normalization (BatchNormalization)</td><td>(None, 8)</td><td>32</td>" in html
    assert "Trainable params: 138" in html and "Non-trainable params: 16" in html
    weird = Sequential([Dense(1, input_shape=2, name="<b>&")], name='m"x')
    assert "&lt;b&gt;&amp;" in weird._repr_html_() and "<b>&" not in weird._repr_html_()


def test_control_characters_in_names_do_not_reach_the_terminal(capsys):
    model = Sequential([Dense(2, input_shape=3, name="evil\x1b[2J")], name="m\x1b]0;x\x07")
    model.summary()
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "evil\\x1b[2J (Dense)" in out
