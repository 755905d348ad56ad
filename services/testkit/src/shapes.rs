//! Large polygons for the tests that bound what one request may cost: rings of tens of thousands
//! of vertices, one big hole or hundreds of small ones, valid or with one crossing placed at the
//! very end of the last ring (where a check that stops early cannot find it sooner).
//!
//! Plain coordinates (`[x, y]`, closed rings), so that this crate depends on no geometry crate;
//! [`wkt`] writes them out. Coordinates are EPSG:3301 metres round the given centre.

/// A closed ring: the first point repeated at the end.
pub type Ring = Vec<[f64; 2]>;

/// A closed ring of `n` distinct vertices on a circle of radius `r` round `(cx, cy)`,
/// counter-clockwise (`n + 1` points).
pub fn circle(cx: f64, cy: f64, r: f64, n: usize) -> Ring {
    let mut ring: Ring = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            [cx + r * a.cos(), cy + r * a.sin()]
        })
        .collect();
    ring.push(ring[0]);
    ring
}

/// Moves the last distinct vertex of `ring` to `(x, y)` (the closing point stays).
fn move_last(ring: &mut Ring, to: [f64; 2]) {
    let n = ring.len();
    ring[n - 2] = to;
}

/// A disc of radius 500 m round `(cx, cy)` with a hole of radius 400 m: `shell` points in the
/// exterior ring and `hole` in the hole, closing points included (so `shell + hole` vertices in
/// all). With `crossing`, the hole's last vertex lies 100 m outside the exterior ring.
pub fn with_hole(cx: f64, cy: f64, shell: usize, hole: usize, crossing: bool) -> Vec<Ring> {
    let exterior = circle(cx, cy, 500.0, shell - 1);
    let mut inner = circle(cx, cy, 400.0, hole - 1);
    inner.reverse();
    if crossing {
        move_last(&mut inner, [cx + 600.0, cy - 1.0]);
    }
    vec![exterior, inner]
}

/// A disc of radius 500 m round `(cx, cy)` (`shell` points) with `holes` holes of `hole_points`
/// points each, radius 8 m, on a 30 m grid; at most 529 holes. With `crossing`, the last hole's
/// last vertex lies outside the exterior ring, crossing other holes on its way.
pub fn with_holes(
    cx: f64,
    cy: f64,
    shell: usize,
    holes: usize,
    hole_points: usize,
    crossing: bool,
) -> Vec<Ring> {
    assert!(holes <= 23 * 23, "at most 529 holes fit");
    let mut rings = vec![circle(cx, cy, 500.0, shell - 1)];
    for k in 0..holes {
        let (i, j) = ((k % 23) as f64, (k / 23) as f64);
        let mut h = circle(
            cx - 330.0 + 30.0 * i,
            cy - 330.0 + 30.0 * j,
            8.0,
            hole_points - 1,
        );
        h.reverse();
        rings.push(h);
    }
    if crossing {
        let last = rings.last_mut().expect("a hole");
        move_last(last, [cx + 700.0, cy + 1.0]);
    }
    rings
}

/// The rings as a WKT polygon.
pub fn wkt(rings: &[Ring]) -> String {
    let mut s = String::from("POLYGON(");
    for (k, ring) in rings.iter().enumerate() {
        if k > 0 {
            s.push(',');
        }
        s.push('(');
        for (i, [x, y]) in ring.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&format!("{x} {y}"));
        }
        s.push(')');
    }
    s.push(')');
    s
}

/// How many points the rings have in all (closing points included), as the vertex cap counts.
pub fn points(rings: &[Ring]) -> usize {
    rings.iter().map(Vec::len).sum()
}

/// The rings as little-endian ISO WKB of a polygon (16 bytes a point: 100 000 points fit well in
/// a 4 MiB message, where WKT would not).
pub fn wkb(rings: &[Ring]) -> Vec<u8> {
    let mut b = Vec::with_capacity(9 + rings.iter().map(|r| 4 + 16 * r.len()).sum::<usize>());
    b.push(1);
    b.extend(3u32.to_le_bytes());
    b.extend((rings.len() as u32).to_le_bytes());
    for ring in rings {
        b.extend((ring.len() as u32).to_le_bytes());
        for [x, y] in ring {
            b.extend(x.to_le_bytes());
            b.extend(y.to_le_bytes());
        }
    }
    b
}
