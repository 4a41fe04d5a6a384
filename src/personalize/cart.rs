//! Carts: what a user bought, weighted by how much they liked it (paper §III, eq. (4)).
//!
//! The paper represents a shopper by one vector in the embedding space: the mean of the
//! embeddings of the items they bought, each weighted by its rating, so a five-star purchase
//! pulls the recommendation five times harder than a one-star one. Cosine search from that
//! vector is the *cart-mean* recommender; the personaliser network refines it.

use crate::error::{Error, Result};
use crate::index::Rows;

/// One purchase in a cart: a row of the embedding index and its rating (1–5 stars).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CartEntry {
    pub row: usize,
    pub stars: f32,
}

/// Eq. (4): `c = Σ_k r_k x_k / Σ_k r_k`, the rating-weighted mean of the cart's item
/// embeddings `x_k` (rows of `matrix`, `dim` wide, at any precision) with ratings `r_k`.
///
/// Entries with a rating ≤ 0 carry no weight. An empty cart (or one whose weights are all
/// zero) has no mean and is an error rather than a zero vector that would match nothing.
pub fn cart_vector(matrix: &Rows, dim: usize, cart: &[CartEntry]) -> Result<Vec<f32>> {
    let mut sum = vec![0f32; dim];
    let mut weight = 0f32;
    for entry in cart {
        if entry.stars <= 0.0 {
            continue;
        }
        if (entry.row + 1) * dim > matrix.len() {
            return Err(Error::Invalid(format!(
                "cart row {} is outside the index of {} rows",
                entry.row,
                matrix.len() / dim.max(1)
            )));
        }
        for (s, x) in sum.iter_mut().zip(matrix.row(entry.row, dim).iter()) {
            *s += entry.stars * x;
        }
        weight += entry.stars;
    }
    if weight <= 0.0 {
        return Err(Error::Invalid(
            "the cart is empty: add an item with a rating of at least one star".into(),
        ));
    }
    for s in &mut sum {
        *s /= weight;
    }
    Ok(sum)
}

/// `v` scaled to unit length (cosine search expects unit queries); a zero vector stays zero.
pub fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(row: usize, stars: f32) -> CartEntry {
        CartEntry { row, stars }
    }

    #[test]
    fn the_cart_is_the_rating_weighted_mean() {
        // Three 2-D items: (1,0), (0,1), (1,1).
        let m = Rows::from(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        let c = cart_vector(&m, 2, &[entry(0, 5.0), entry(1, 1.0)]).unwrap();
        assert_eq!(c, vec![5.0 / 6.0, 1.0 / 6.0]);
        // Equal ratings give the plain mean; the order of purchases does not matter.
        let c = cart_vector(&m, 2, &[entry(2, 3.0), entry(0, 3.0), entry(1, 3.0)]).unwrap();
        assert!((c[0] - 2.0 / 3.0).abs() < 1e-6 && (c[1] - 2.0 / 3.0).abs() < 1e-6);
        // One item: its own embedding.
        assert_eq!(
            cart_vector(&m, 2, &[entry(2, 4.0)]).unwrap(),
            vec![1.0, 1.0]
        );
        // A zero rating carries no weight.
        assert_eq!(
            cart_vector(&m, 2, &[entry(0, 2.0), entry(1, 0.0)]).unwrap(),
            vec![1.0, 0.0]
        );
    }

    #[test]
    fn empty_carts_and_bad_rows_are_errors() {
        let m = Rows::from(vec![1.0, 0.0]);
        assert!(cart_vector(&m, 2, &[]).is_err());
        assert!(cart_vector(&m, 2, &[entry(0, 0.0)]).is_err());
        assert!(cart_vector(&m, 2, &[entry(1, 3.0)]).is_err());
    }

    #[test]
    fn normalized_has_unit_length() {
        let v = normalized(vec![3.0, 4.0]);
        assert_eq!(v, vec![0.6, 0.8]);
        assert_eq!(normalized(vec![0.0, 0.0]), vec![0.0, 0.0]);
    }
}
