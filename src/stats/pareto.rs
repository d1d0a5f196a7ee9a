//! Pareto fronts of (throughput, time-to-first-token) points: the
//! configurations no other configuration beats on both axes at once.

/// Indices of the points not dominated by any other point, where the first
/// coordinate is maximised (throughput) and the second minimised (TTFT).
///
/// `p` dominates `q` when `p` is at least as good on both axes and strictly
/// better on one, so duplicated front points are all kept. Points with a NaN
/// coordinate are never on the front. The result is sorted by the second
/// coordinate (then by index). O(n log n).
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len())
        .filter(|&i| !points[i].0.is_nan() && !points[i].1.is_nan())
        .collect();
    // Ascending second coordinate, best (largest) first coordinate first.
    order.sort_by(|&i, &j| {
        points[i]
            .1
            .total_cmp(&points[j].1)
            .then(points[j].0.total_cmp(&points[i].0))
            .then(i.cmp(&j))
    });
    let mut front = Vec::new();
    // Best first coordinate among points with a strictly smaller second one.
    let mut best_before_group = f64::NEG_INFINITY;
    let mut start = 0;
    while start < order.len() {
        let group_y = points[order[start]].1;
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| points[i].1 == group_y)
                .count();
        // Within a group of equal second coordinates, only points matching the
        // group's best first coordinate escape domination by their peers.
        let group_best = points[order[start]].0;
        if group_best > best_before_group {
            front.extend(
                order[start..end]
                    .iter()
                    .copied()
                    .filter(|&i| points[i].0 == group_best),
            );
        }
        best_before_group = best_before_group.max(group_best);
        start = end;
    }
    front
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dominates(p: (f64, f64), q: (f64, f64)) -> bool {
        p.0 >= q.0 && p.1 <= q.1 && (p.0 > q.0 || p.1 < q.1)
    }

    #[test]
    fn front_by_hand() {
        let points = [
            (10.0, 5.0),  // 0: front
            (8.0, 3.0),   // 1: front
            (9.0, 6.0),   // 2: dominated by 0
            (12.0, 9.0),  // 3: front
            (8.0, 3.0),   // 4: duplicate of 1, kept
            (7.0, 3.0),   // 5: dominated by 1
            (12.0, 10.0), // 6: dominated by 3
        ];
        assert_eq!(pareto_front(&points), vec![1, 4, 0, 3]);
        assert_eq!(pareto_front(&[]), Vec::<usize>::new());
        assert_eq!(pareto_front(&[(f64::NAN, 1.0), (1.0, 1.0)]), vec![1]);
    }

    proptest! {
        #[test]
        fn front_is_non_dominated_and_dominates_the_rest(
            // Few distinct values so that ties on each axis are common.
            raw in prop::collection::vec((0i32..8, 0i32..8), 0..40),
        ) {
            let points: Vec<(f64, f64)> =
                raw.iter().map(|&(x, y)| (f64::from(x), f64::from(y))).collect();
            let front = pareto_front(&points);
            for &i in &front {
                for &j in &front {
                    prop_assert!(!dominates(points[i], points[j]));
                }
            }
            for (k, &point) in points.iter().enumerate() {
                if !front.contains(&k) {
                    prop_assert!(front.iter().any(|&i| dominates(points[i], point)));
                }
            }
            for pair in front.windows(2) {
                prop_assert!(points[pair[0]].1 <= points[pair[1]].1);
            }
        }
    }
}
