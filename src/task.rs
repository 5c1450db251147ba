//! `Task`: what a run fine-tunes a model to do (HF's `problem_type`, plus token
//! classification). It decides the head, the labels' form, their collation, the loss, the
//! metrics, the Playground view and the export; each of those concerns matches on it in its
//! own module, so a new task adds one arm per concern.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// One class per text (`*ForSequenceClassification`, cross-entropy).
    #[default]
    SingleLabelClassification,
    /// Any number of classes per text (one sigmoid per class, BCE-with-logits).
    MultiLabelClassification,
    /// One number per text (`num_labels = 1`, mean squared error).
    Regression,
    /// One class per word (`*ForTokenClassification`, cross-entropy over aligned sub-tokens).
    TokenClassification,
}

impl Task {
    pub const ALL: [Task; 4] = [
        Task::SingleLabelClassification,
        Task::MultiLabelClassification,
        Task::Regression,
        Task::TokenClassification,
    ];

    /// The name in config files (HF's `problem_type` spelling).
    pub fn name(self) -> &'static str {
        match self {
            Task::SingleLabelClassification => "single_label_classification",
            Task::MultiLabelClassification => "multi_label_classification",
            Task::Regression => "regression",
            Task::TokenClassification => "token_classification",
        }
    }

    pub fn from_name(name: &str) -> Option<Task> {
        Task::ALL.into_iter().find(|task| task.name() == name)
    }

    /// Words for people.
    pub fn title(self) -> &'static str {
        match self {
            Task::SingleLabelClassification => "single-label classification",
            Task::MultiLabelClassification => "multi-label classification",
            Task::Regression => "regression",
            Task::TokenClassification => "token classification (e.g. named entities)",
        }
    }

    /// What `config.json`'s `problem_type` says for a sequence-level task; token
    /// classification has its own model class instead.
    pub fn problem_type(self) -> Option<&'static str> {
        match self {
            Task::TokenClassification => None,
            task => Some(task.name()),
        }
    }

    /// A label (or prediction) per token rather than per text.
    pub fn per_token(self) -> bool {
        self == Task::TokenClassification
    }

    /// The loss is cross-entropy over classes, so class weights apply.
    pub fn uses_cross_entropy(self) -> bool {
        matches!(
            self,
            Task::SingleLabelClassification | Task::TokenClassification
        )
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for task in Task::ALL {
            assert_eq!(Task::from_name(task.name()), Some(task));
            let json = serde_json::to_string(&task).unwrap();
            assert_eq!(json, format!("\"{}\"", task.name()));
        }
        assert_eq!(Task::from_name("classification"), None);
    }
}
