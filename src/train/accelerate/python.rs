//! Python literals for the generated script: just enough of the grammar to
//! write settings dictionaries that `python3 -m py_compile` accepts.

/// A Python value, rendered as source text by [`Py::render`].
#[derive(Debug, Clone, PartialEq)]
pub enum Py {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Py>),
    /// Keys are strings; order is kept.
    Dict(Vec<(String, Py)>),
}

impl Py {
    pub fn str(text: impl Into<String>) -> Self {
        Py::Str(text.into())
    }

    /// `Some(text)` as a string, `None` as `None`.
    pub fn opt_str(text: Option<&str>) -> Self {
        text.map_or(Py::None, Py::str)
    }

    pub fn opt_int(value: Option<impl Into<i64>>) -> Self {
        value.map_or(Py::None, |v| Py::Int(v.into()))
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Py::None)
    }

    /// Python source for this value.
    pub fn render(&self) -> String {
        match self {
            Py::None => "None".into(),
            Py::Bool(true) => "True".into(),
            Py::Bool(false) => "False".into(),
            Py::Int(i) => i.to_string(),
            Py::Float(f) => float(*f),
            Py::Str(s) => string(s),
            Py::List(items) => {
                let inner: Vec<String> = items.iter().map(Py::render).collect();
                format!("[{}]", inner.join(", "))
            }
            Py::Dict(entries) => {
                let inner: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{}: {}", string(k), v.render()))
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
        }
    }
}

/// A float that reads back as the same value (`{:?}` keeps a `.0` or an exponent).
fn float(value: f64) -> String {
    if value.is_nan() {
        "float(\"nan\")".into()
    } else if value.is_infinite() {
        if value > 0.0 {
            "float(\"inf\")"
        } else {
            "-float(\"inf\")"
        }
        .into()
    } else {
        format!("{value:?}")
    }
}

/// A double-quoted Python string. JSON's escapes (`\"`, `\\`, `\n`, `\uXXXX`, ...) are all
/// valid Python escapes, and JSON escapes every control character.
fn string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_python_literals() {
        assert_eq!(Py::None.render(), "None");
        assert_eq!(Py::Bool(true).render(), "True");
        assert_eq!(Py::Int(-1).render(), "-1");
        assert_eq!(Py::Float(5e-5).render(), "5e-5");
        assert_eq!(Py::Float(3.0).render(), "3.0");
        assert_eq!(Py::Float(f64::INFINITY).render(), "float(\"inf\")");
        assert_eq!(Py::str("a \"b\"\n\\").render(), r#""a \"b\"\n\\""#);
        let dict = Py::Dict(vec![
            (
                "train".into(),
                Py::List(vec![Py::str("a.csv"), Py::str("b.csv")]),
            ),
            ("k".into(), Py::None),
        ]);
        assert_eq!(dict.render(), r#"{"train": ["a.csv", "b.csv"], "k": None}"#);
    }
}
