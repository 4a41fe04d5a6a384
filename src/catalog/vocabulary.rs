//! The label vocabulary: which candidate labels an import keeps.
//!
//! Importers propose many labels per item: structured fields (category, colour, brand …),
//! dataset attributes, and words from product titles. Most title words are noise and a label
//! seen on one item teaches a classifier nothing, so every candidate label goes through one
//! rule, as in the paper (which kept 1,102 labels): count on how many items each label
//! occurs, keep those on at least [`VocabularyRule::min_count`] items, and of those the
//! [`VocabularyRule::max_size`] most frequent. Ties in frequency are broken by group, then
//! name, so the same rows always give the same vocabulary.

use super::{Label, LabelGroup};
use std::collections::{HashMap, HashSet};

/// Which labels to keep. The default keeps labels seen on at least 2 items, at most 1,102 of
/// them (the vocabulary size of the paper).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VocabularyRule {
    /// The fewest items a label must occur on to be kept (0 and 1 both keep every label).
    pub min_count: u32,
    /// The most labels kept; the most frequent win.
    pub max_size: usize,
}

impl Default for VocabularyRule {
    fn default() -> Self {
        VocabularyRule {
            min_count: 2,
            max_size: 1102,
        }
    }
}

/// Counts candidate labels over items; [`VocabularyCounter::build`] applies a rule.
#[derive(Debug, Clone, Default)]
pub struct VocabularyCounter {
    counts: HashMap<Label, u32>,
}

impl VocabularyCounter {
    /// An empty counter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one item's labels (a label listed twice on one item counts once).
    pub fn add_item<'a>(&mut self, labels: impl IntoIterator<Item = &'a Label>) {
        let distinct: HashSet<&Label> = labels.into_iter().collect();
        for label in distinct {
            *self.counts.entry(label.clone()).or_insert(0) += 1;
        }
    }

    /// On how many counted items `label` occurs.
    pub fn count(&self, label: &Label) -> u32 {
        self.counts.get(label).copied().unwrap_or(0)
    }

    /// The vocabulary `rule` keeps from what was counted.
    pub fn build(&self, rule: &VocabularyRule) -> Vocabulary {
        let mut ranked: Vec<(&Label, u32)> = self
            .counts
            .iter()
            .filter(|&(_, &n)| n >= rule.min_count.max(1))
            .map(|(l, &n)| (l, n))
            .collect();
        // Most frequent first; `Label`'s order (group, then name) breaks ties.
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        ranked.truncate(rule.max_size);
        let ranked: Vec<(Label, u32)> = ranked.into_iter().map(|(l, n)| (l.clone(), n)).collect();
        let kept = ranked.iter().map(|(l, _)| l.clone()).collect();
        Vocabulary { ranked, kept }
    }
}

/// The kept labels, most frequent first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vocabulary {
    ranked: Vec<(Label, u32)>,
    kept: HashSet<Label>,
}

impl Vocabulary {
    /// Counts `items` and applies `rule` in one go.
    pub fn from_items<'a, I>(items: I, rule: &VocabularyRule) -> Vocabulary
    where
        I: IntoIterator<Item = &'a [Label]>,
    {
        let mut counter = VocabularyCounter::new();
        for labels in items {
            counter.add_item(labels);
        }
        counter.build(rule)
    }

    /// How many labels were kept.
    pub fn len(&self) -> usize {
        self.ranked.len()
    }

    /// Whether no label was kept.
    pub fn is_empty(&self) -> bool {
        self.ranked.is_empty()
    }

    /// Whether `label` was kept.
    pub fn contains(&self, label: &Label) -> bool {
        self.kept.contains(label)
    }

    /// The kept labels with their item counts, most frequent first.
    pub fn ranked(&self) -> &[(Label, u32)] {
        &self.ranked
    }

    /// Drops the labels of one item that are not in the vocabulary, and duplicates; the
    /// result is sorted (group, then name).
    pub fn filter(&self, labels: &mut Vec<Label>) {
        labels.retain(|l| self.kept.contains(l));
        labels.sort();
        labels.dedup();
    }
}

/// Words that say nothing about how an item looks: common English words and shop talk.
pub const STOP_WORDS: &[&str] = &[
    // English
    "about",
    "all",
    "and",
    "any",
    "are",
    "but",
    "can",
    "for",
    "from",
    "has",
    "have",
    "her",
    "his",
    "into",
    "its",
    "not",
    "off",
    "one",
    "our",
    "out",
    "over",
    "per",
    "she",
    "than",
    "that",
    "the",
    "their",
    "them",
    "these",
    "this",
    "those",
    "too",
    "two",
    "very",
    "was",
    "who",
    "will",
    "with",
    "without",
    "you",
    "your",
    // Shop talk
    "amp",
    "authentic",
    "best",
    "brand",
    "buy",
    "cheap",
    "deal",
    "discount",
    "free",
    "genuine",
    "gift",
    "gifts",
    "great",
    "hot",
    "inch",
    "inches",
    "item",
    "items",
    "lot",
    "nbsp",
    "new",
    "offer",
    "official",
    "pack",
    "pcs",
    "piece",
    "pieces",
    "price",
    "product",
    "quality",
    "quot",
    "sale",
    "set",
    "shipping",
    "size",
    "sizes",
    "style",
    "styles",
];

/// The candidate `Word` labels of a product title: lower-cased alphabetic words of at least
/// three letters, minus [`STOP_WORDS`], each once, in title order. Tokens are split at every
/// character that is neither a letter nor a digit; tokens holding digits ("2xl", "2018")
/// are dropped.
pub fn title_words(title: &str) -> Vec<Label> {
    let mut seen = HashSet::new();
    let mut words = Vec::new();
    for token in title.split(|c: char| !c.is_alphanumeric()) {
        if token.chars().count() < 3 || !token.chars().all(char::is_alphabetic) {
            continue;
        }
        let word = token.to_lowercase();
        if STOP_WORDS.contains(&word.as_str()) || !seen.insert(word.clone()) {
            continue;
        }
        words.push(Label {
            group: LabelGroup::Word,
            name: word,
        });
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(group: LabelGroup, name: &str) -> Label {
        Label::new(group, name)
    }

    #[test]
    fn min_count_drops_rare_labels_and_counts_items_not_mentions() {
        let red = l(LabelGroup::Colour, "red");
        let blue = l(LabelGroup::Colour, "blue");
        let items = [
            vec![red.clone(), red.clone(), blue.clone()],
            vec![red.clone()],
        ];
        let mut counter = VocabularyCounter::new();
        for item in &items {
            counter.add_item(item);
        }
        assert_eq!(counter.count(&red), 2);
        assert_eq!(counter.count(&blue), 1);
        let vocab = counter.build(&VocabularyRule::default());
        assert!(vocab.contains(&red));
        assert!(!vocab.contains(&blue));
        let mut labels = items[0].clone();
        vocab.filter(&mut labels);
        assert_eq!(labels, vec![red.clone()]);
        let all = counter.build(&VocabularyRule {
            min_count: 1,
            max_size: 10,
        });
        assert_eq!(all.len(), 2);
        let zero = counter.build(&VocabularyRule {
            min_count: 0,
            max_size: 10,
        });
        assert_eq!(zero.len(), 2);
    }

    #[test]
    fn max_size_keeps_the_most_frequent() {
        let a = l(LabelGroup::Word, "a");
        let b = l(LabelGroup::Word, "b");
        let c = l(LabelGroup::Word, "c");
        let items: Vec<Vec<Label>> = vec![
            vec![a.clone(), b.clone(), c.clone()],
            vec![b.clone(), c.clone()],
            vec![c.clone()],
        ];
        let vocab = Vocabulary::from_items(
            items.iter().map(Vec::as_slice),
            &VocabularyRule {
                min_count: 1,
                max_size: 2,
            },
        );
        assert_eq!(vocab.ranked(), &[(c.clone(), 3), (b.clone(), 2)]);
        assert!(!vocab.contains(&a));
    }

    #[test]
    fn ties_are_broken_by_group_then_name_whatever_the_input_order() {
        let labels = [
            l(LabelGroup::Word, "zip"),
            l(LabelGroup::Word, "arm"),
            l(LabelGroup::Colour, "red"),
            l(LabelGroup::Category, "dress"),
        ];
        let rule = VocabularyRule {
            min_count: 1,
            max_size: 3,
        };
        let forward = Vocabulary::from_items([&labels[..]], &rule);
        let mut reversed = labels.to_vec();
        reversed.reverse();
        let backward = Vocabulary::from_items([&reversed[..]], &rule);
        assert_eq!(forward, backward);
        let names: Vec<String> = forward
            .ranked()
            .iter()
            .map(|(l, _)| l.to_string())
            .collect();
        assert_eq!(names, ["category:dress", "colour:red", "word:arm"]);
    }

    #[test]
    fn title_words_are_lower_case_alphabetic_and_not_stop_words() {
        let words: Vec<String> = title_words("The NEW Red Maxi-Dress for Women, 2XL & 2018 red")
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(words, ["red", "maxi", "dress", "women"]);
        assert!(title_words("").is_empty());
        assert_eq!(title_words("Été élégant")[0].name, "été");
    }
}
