//! proptest strategies for every type of schemas/everything, with the
//! awkward values the wire format must carry: strings full of `|`, `\`,
//! CR/LF, `~`, quotes, emoji and other non-ASCII; empty values; the extremes
//! of every integer type; -0.0, subnormals, NaN and the infinities.
#![allow(dead_code)]

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use tagwire_tests::everything::*;

pub fn string() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[a-c|\\\\~\r\n\"'é🎉\u{0}\t +]{0,8}",
        1 => any::<String>(),
        1 => Just(String::new()),
        1 => Just("~".to_string()),
    ]
    .boxed()
}

pub fn bytes() -> BoxedStrategy<Vec<u8>> {
    vec(any::<u8>(), 0..12).boxed()
}

pub fn f64_value() -> BoxedStrategy<f64> {
    prop_oneof![
        4 => any::<f64>(),
        1 => prop::sample::select(vec![
            0.0,
            -0.0,
            f64::NAN,
            -f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::MAX,
            f64::MIN,
            1e21,
            1e-7,
            0.1,
        ]),
    ]
    .boxed()
}

pub fn f32_value() -> BoxedStrategy<f32> {
    prop_oneof![
        4 => any::<f32>(),
        1 => prop::sample::select(vec![
            0.0f32,
            -0.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN_POSITIVE,
            1e-45,
            f32::MAX,
            f32::MIN,
            0.1,
        ]),
    ]
    .boxed()
}

/// Integers biased towards their extremes.
macro_rules! int {
    ($name:ident, $t:ty) => {
        pub fn $name() -> BoxedStrategy<$t> {
            prop_oneof![3 => any::<$t>(), 1 => prop::sample::select(vec![<$t>::MIN, <$t>::MAX, 0 as $t, 1 as $t])].boxed()
        }
    };
}
int!(u8_value, u8);
int!(u16_value, u16);
int!(u32_value, u32);
int!(u64_value, u64);
int!(i8_value, i8);
int!(i16_value, i16);
int!(i32_value, i32);
int!(i64_value, i64);

pub fn point() -> BoxedStrategy<Point> {
    (i32_value(), i32_value())
        .prop_map(|(x, y)| Point { x, y })
        .boxed()
}

pub fn color() -> BoxedStrategy<Color> {
    prop::sample::select(vec![Color::Red, Color::Green, Color::Blue, Color::Max]).boxed()
}

pub fn tree() -> BoxedStrategy<Tree> {
    string()
        .prop_map(|label| Tree {
            label,
            children: vec![],
        })
        .prop_recursive(4, 16, 3, |inner| {
            (string(), vec(inner, 0..3)).prop_map(|(label, children)| Tree { label, children })
        })
        .boxed()
}

pub fn chain() -> BoxedStrategy<Chain> {
    u8_value()
        .prop_map(|value| Chain { value, next: None })
        .prop_recursive(5, 6, 1, |inner| {
            (u8_value(), proptest::option::of(inner)).prop_map(|(value, next)| Chain {
                value,
                next: next.map(Box::new),
            })
        })
        .boxed()
}

pub fn shape() -> BoxedStrategy<Shape> {
    let leaf = prop_oneof![
        Just(Shape::Empty),
        f32_value().prop_map(|r| Shape::Circle { r }),
        (u8_value(), u8_value()).prop_map(|(w, h)| Shape::Rect { w, h }),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        (vec(inner, 0..3), proptest::option::of(point()))
            .prop_map(|(shapes, origin)| Shape::Group { shapes, origin })
    })
    .boxed()
}

pub fn expr() -> BoxedStrategy<Expr> {
    i64_value()
        .prop_map(|value| Expr::Lit { value })
        .prop_recursive(4, 12, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|e| Expr::Neg { inner: Box::new(e) }),
                (inner.clone(), inner.clone()).prop_map(|(l, r)| Expr::Add {
                    left: Box::new(l),
                    right: Box::new(r)
                }),
                proptest::option::of(inner).prop_map(|e| Expr::Maybe {
                    inner: e.map(Box::new)
                }),
            ]
        })
        .boxed()
}

pub fn awkward() -> BoxedStrategy<Awkward> {
    (string(), u8_value(), any::<bool>(), u8_value(), u8_value())
        .prop_map(|(t, m, c, r, w)| Awkward {
            r#type: t,
            r#match: m,
            camelCase: c,
            r,
            w,
        })
        .boxed()
}

pub fn scalars() -> BoxedStrategy<ScalarsV1> {
    (
        (
            any::<bool>(),
            u8_value(),
            u16_value(),
            u32_value(),
            u64_value(),
            i8_value(),
            i16_value(),
        ),
        (
            i32_value(),
            i64_value(),
            f32_value(),
            f64_value(),
            string(),
            bytes(),
        ),
    )
        .prop_map(
            |((b, u_8, u_16, u_32, u_64, i_8, i_16), (i_32, i_64, f_32, f_64, s, raw))| ScalarsV1 {
                b,
                u_8,
                u_16,
                u_32,
                u_64,
                i_8,
                i_16,
                i_32,
                i_64,
                f_32,
                f_64,
                s,
                raw,
            },
        )
        .boxed()
}

pub fn collections() -> BoxedStrategy<CollectionsV1> {
    (
        (
            vec(u16_value(), 0..5),
            vec(string(), 0..4),
            vec(vec(i8_value(), 0..3), 0..3),
            vec(bytes(), 0..3),
        ),
        (
            btree_map(string(), u8_value(), 0..4),
            btree_map(i32_value(), any::<bool>(), 0..4),
            btree_map(u64_value(), string(), 0..3),
            btree_map(i8_value(), bytes(), 0..3),
        ),
        (
            btree_map(string(), point(), 0..3),
            btree_map(u16_value(), shape(), 0..3),
            vec(tree(), 0..2),
        ),
    )
        .prop_map(
            |(
                (list, strings, nested, blobs),
                (smap, imap, umap, bmap),
                (points, shapes, trees),
            )| CollectionsV1 {
                list,
                strings,
                nested,
                blobs,
                smap,
                imap,
                umap,
                bmap,
                points,
                shapes,
                trees,
            },
        )
        .boxed()
}

pub fn optionals() -> BoxedStrategy<OptionalsV1> {
    use proptest::option::of;
    (
        (
            of(any::<bool>()),
            of(u64_value()),
            of(i64_value()),
            of(f32_value()),
            of(f64_value()),
            of(string()),
        ),
        (
            of(bytes()),
            of(point()),
            of(Just(Empty {})),
            of(color()),
            of(shape()),
            of(vec(u8_value(), 0..3)),
        ),
        (
            of(btree_map(string(), i32_value(), 0..3)),
            vec(of(string()), 0..4),
            vec(of(vec(of(shape()), 0..3)), 0..3),
            of(chain()),
        ),
    )
        .prop_map(
            |(
                (o_bool, o_u64, o_i64, o_f32, o_f64, o_string),
                (o_bytes, o_point, o_empty, o_color, o_shape, o_list),
                (o_map, list_of_opt, deep, o_chain),
            )| OptionalsV1 {
                o_bool,
                o_u64,
                o_i64,
                o_f32,
                o_f64,
                o_string,
                o_bytes,
                o_point,
                o_empty,
                o_color,
                o_shape,
                o_list,
                o_map,
                list_of_opt,
                deep,
                o_chain,
            },
        )
        .boxed()
}

pub fn composites() -> BoxedStrategy<CompositesV1> {
    (
        (
            color(),
            shape(),
            point(),
            vec(Just(Empty {}), 0..4),
            vec(proptest::option::of(point()), 0..4),
        ),
        (tree(), chain(), expr(), awkward()),
    )
        .prop_map(
            |((color, shape, point, empties, points), (tree, chain, expr, awkward))| CompositesV1 {
                color,
                shape,
                point,
                empty: Empty {},
                empties,
                points,
                tree,
                chain,
                expr,
                awkward,
            },
        )
        .boxed()
}

pub fn cursor() -> BoxedStrategy<CursorMoveV1> {
    (u32_value(), f32_value(), f32_value(), u8_value())
        .prop_map(|(user, x, y, buttons)| CursorMoveV1 {
            user,
            x,
            y,
            buttons,
        })
        .boxed()
}

pub fn server_message() -> BoxedStrategy<ServerMessage> {
    prop_oneof![
        scalars().prop_map(ServerMessage::from),
        optionals().prop_map(ServerMessage::from),
        composites().prop_map(ServerMessage::from),
        Just(ServerMessage::from(NothingV1 {})),
    ]
    .boxed()
}

pub fn client_message() -> BoxedStrategy<ClientMessage> {
    prop_oneof![
        collections().prop_map(ClientMessage::from),
        optionals().prop_map(ClientMessage::from),
        Just(ClientMessage::from(NothingV1 {})),
        cursor().prop_map(ClientMessage::from),
    ]
    .boxed()
}
