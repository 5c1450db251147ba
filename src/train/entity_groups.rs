//! Entities from per-token tags, as `pipeline("token-classification",
//! aggregation_strategy="simple")` groups them: neighbouring tokens of one type join unless
//! a `B-` tag starts a new entity; `O` tokens are dropped; a group's score is the mean of its
//! tokens' scores and its text the span of the input it covers.

use serde::{Deserialize, Serialize};

/// One token's predicted tag, its probability and its byte range in the text.
#[derive(Debug, Clone, PartialEq)]
pub struct TaggedToken {
    pub tag: String,
    pub score: f32,
    pub start: usize,
    pub end: usize,
}

/// One entity found in a text (`entity_group`, `score`, `word`, `start`, `end`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityGroup {
    pub kind: String,
    pub score: f32,
    pub text: String,
    /// Byte range in the input text.
    pub start: usize,
    pub end: usize,
}

/// `("B", "PER")` for `B-PER`; a tag without a prefix is inside its own type, as HF reads it.
fn split_tag(tag: &str) -> (bool, &str) {
    match tag.split_once('-') {
        Some(("B", kind)) => (true, kind),
        Some(("I", kind)) => (false, kind),
        _ => (false, tag),
    }
}

pub fn group_entities(text: &str, tokens: &[TaggedToken]) -> Vec<EntityGroup> {
    let mut groups: Vec<(String, Vec<&TaggedToken>)> = Vec::new();
    for token in tokens {
        let (begins, kind) = split_tag(&token.tag);
        match groups.last_mut() {
            Some((last_kind, members)) if !begins && last_kind == kind => members.push(token),
            _ => groups.push((kind.to_string(), vec![token])),
        }
    }
    groups
        .into_iter()
        .filter(|(kind, _)| kind != "O")
        .map(|(kind, members)| {
            let start = members[0].start;
            let end = members[members.len() - 1].end;
            EntityGroup {
                score: members.iter().map(|t| t.score).sum::<f32>() / members.len() as f32,
                text: text.get(start..end).unwrap_or_default().to_string(),
                kind,
                start,
                end,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(tag: &str, score: f32, start: usize, end: usize) -> TaggedToken {
        TaggedToken {
            tag: tag.into(),
            score,
            start,
            end,
        }
    }

    #[test]
    fn groups_like_the_simple_aggregation() {
        let text = "My name is Sylvain and I work at Hugging Face in Brooklyn";
        // Sy ##lva ##in | Hu ##gging Face | Brooklyn, tagged as the course's example.
        let tokens = [
            token("O", 0.99, 0, 2),
            token("I-PER", 0.99, 11, 13),
            token("I-PER", 0.98, 13, 16),
            token("I-PER", 0.97, 16, 18),
            token("O", 0.99, 19, 22),
            token("I-ORG", 0.9, 33, 35),
            token("I-ORG", 0.8, 35, 40),
            token("I-ORG", 0.7, 41, 45),
            token("O", 0.99, 46, 48),
            token("I-LOC", 0.99, 49, 57),
        ];
        let groups = group_entities(text, &tokens);
        let found: Vec<(&str, &str)> = groups
            .iter()
            .map(|g| (g.kind.as_str(), g.text.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("PER", "Sylvain"),
                ("ORG", "Hugging Face"),
                ("LOC", "Brooklyn")
            ]
        );
        assert!((groups[1].score - 0.8).abs() < 1e-6);
    }

    #[test]
    fn a_b_tag_starts_a_new_entity() {
        let text = "Paris Berlin";
        let tokens = [token("B-LOC", 0.9, 0, 5), token("B-LOC", 0.8, 6, 12)];
        let groups = group_entities(text, &tokens);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[1].text, "Berlin");
    }
}
