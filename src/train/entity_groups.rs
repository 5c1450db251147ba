//! Entities from per-token tags, as `pipeline("token-classification",
//! aggregation_strategy="simple")` groups them: neighbouring tokens of one type join unless
//! a `B-` tag starts a new entity; `O` tokens are dropped; a group's score is the mean of its
//! tokens' scores and its text the span of the input it covers.

use serde::{Deserialize, Serialize};

use super::scores::tag_parts;

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

/// HF's `get_tag`: whether the tag begins an entity, and the key neighbours must share to
/// join it. `B-X` begins `X`, `I-X` continues `X`; any other tag (`O`, `E-X`, `S-X`, a bare
/// `X`) continues its whole name, so an IOBES `E-X` or `S-X` joins only its own kind of tag,
/// as the pipeline groups them.
fn hf_tag(tag: &str) -> (bool, &str) {
    match tag_parts(tag) {
        (Some('B'), kind) => (true, kind),
        (Some('I'), kind) => (false, kind),
        _ => (false, tag),
    }
}

/// The pipeline's `entity_group`: the group's first tag without its prefix (`S-PER` → `PER`).
fn group_name(tag: &str) -> &str {
    tag_parts(tag).1
}

pub fn group_entities(text: &str, tokens: &[TaggedToken]) -> Vec<EntityGroup> {
    // (the joining key, the members); HF compares with the last member's key, which every
    // member shares.
    let mut groups: Vec<(&str, Vec<&TaggedToken>)> = Vec::new();
    for token in tokens {
        let (begins, key) = hf_tag(&token.tag);
        match groups.last_mut() {
            Some((last_key, members)) if !begins && *last_key == key => members.push(token),
            _ => groups.push((key, vec![token])),
        }
    }
    groups
        .into_iter()
        .map(|(_, members)| (group_name(&members[0].tag), members))
        .filter(|(kind, _)| *kind != "O")
        .map(|(kind, members)| {
            let start = members[0].start;
            let end = members[members.len() - 1].end;
            EntityGroup {
                score: members.iter().map(|t| t.score).sum::<f32>() / members.len() as f32,
                text: text.get(start..end).unwrap_or_default().to_string(),
                kind: kind.to_string(),
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

    /// transformers 5.24 `TokenClassificationPipeline.group_entities` on these tags gives
    /// [PER "Ann" 0.9, PER "Lee", LOC "Paris Rome" 0.7, O, ORG "Acme"] (the `O` group dropped
    /// by `postprocess`'s `ignore_labels`): `get_tag` reads `E-PER`
    /// as the whole key `E-PER` (not `PER`), so B-PER E-PER split in two; two `S-LOC` in a
    /// row share the key `S-LOC` and join; every group is named after its first tag's type.
    #[test]
    fn iobes_tags_group_as_the_pipeline_groups_them() {
        let text = "Ann Lee Paris Rome Acme";
        let tokens = [
            token("B-PER", 0.9, 0, 3),
            token("E-PER", 0.7, 4, 7),
            token("S-LOC", 0.8, 8, 13),
            token("S-LOC", 0.6, 14, 18),
            token("O", 0.9, 18, 18),
            token("S-ORG", 0.5, 19, 23),
        ];
        let found: Vec<(String, String)> = group_entities(text, &tokens)
            .into_iter()
            .map(|g| (g.kind, g.text))
            .collect();
        let expected = [
            ("PER", "Ann"),
            ("PER", "Lee"),
            ("LOC", "Paris Rome"),
            ("ORG", "Acme"),
        ];
        assert_eq!(found, expected.map(|(k, t)| (k.to_string(), t.to_string())));
        assert!((group_entities(text, &tokens)[2].score - 0.7).abs() < 1e-6);
    }
}
