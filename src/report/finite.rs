//! A serde `Serializer` that only checks: it walks a value and fails on the first non-finite
//! float, naming its path (`orders[1].theorem2.ratio`). serde_json would silently write `null`.

use serde::ser::{self, Serialize};
use std::fmt;

/// The path of the first non-finite float, and its value.
#[derive(Debug)]
pub struct NonFinite(pub String);

impl fmt::Display for NonFinite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NonFinite {}

impl ser::Error for NonFinite {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        NonFinite(msg.to_string())
    }
}

/// Checks that every float in `value` is finite.
pub fn check<T: Serialize + ?Sized>(value: &T) -> Result<(), NonFinite> {
    value.serialize(&mut Checker { path: Vec::new() })
}

struct Checker {
    path: Vec<String>,
}

impl Checker {
    fn float(&self, v: f64) -> Result<(), NonFinite> {
        if v.is_finite() {
            Ok(())
        } else {
            Err(NonFinite(format!(
                "non-finite value {v} at '{}'",
                self.path.join("")
            )))
        }
    }
}

macro_rules! ok_scalar {
    ($($name:ident: $t:ty),*) => {
        $(fn $name(self, _v: $t) -> Result<(), NonFinite> { Ok(()) })*
    };
}

impl<'a> ser::Serializer for &'a mut Checker {
    type Ok = ();
    type Error = NonFinite;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Seq<'a>;
    type SerializeMap = Seq<'a>;
    type SerializeStruct = Seq<'a>;
    type SerializeStructVariant = Seq<'a>;

    ok_scalar!(serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_char: char,
        serialize_str: &str, serialize_bytes: &[u8]);

    fn serialize_f32(self, v: f32) -> Result<(), NonFinite> {
        self.float(v as f64)
    }
    fn serialize_f64(self, v: f64) -> Result<(), NonFinite> {
        self.float(v)
    }
    fn serialize_none(self) -> Result<(), NonFinite> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), NonFinite> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), NonFinite> {
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), NonFinite> {
        Ok(())
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<(), NonFinite> {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), NonFinite> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), NonFinite> {
        self.path.push(format!(".{variant}"));
        v.serialize(&mut *self)?;
        self.path.pop();
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Seq<'a>, NonFinite> {
        Ok(Seq { c: self, index: 0 })
    }
    fn serialize_tuple(self, _: usize) -> Result<Seq<'a>, NonFinite> {
        Ok(Seq { c: self, index: 0 })
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Seq<'a>, NonFinite> {
        Ok(Seq { c: self, index: 0 })
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Seq<'a>, NonFinite> {
        Ok(Seq { c: self, index: 0 })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Seq<'a>, NonFinite> {
        Ok(Seq { c: self, index: 0 })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Seq<'a>, NonFinite> {
        Ok(Seq { c: self, index: 0 })
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Seq<'a>, NonFinite> {
        Ok(Seq { c: self, index: 0 })
    }
}

struct Seq<'a> {
    c: &'a mut Checker,
    index: usize,
}

impl Seq<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), NonFinite> {
        self.c.path.push(format!("[{}]", self.index));
        self.index += 1;
        v.serialize(&mut *self.c)?;
        self.c.path.pop();
        Ok(())
    }
    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<(), NonFinite> {
        self.c.path.push(format!(".{key}"));
        v.serialize(&mut *self.c)?;
        self.c.path.pop();
        Ok(())
    }
}

macro_rules! seq_impl {
    ($tr:ident, $m:ident) => {
        impl ser::$tr for Seq<'_> {
            type Ok = ();
            type Error = NonFinite;
            fn $m<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), NonFinite> {
                self.element(v)
            }
            fn end(self) -> Result<(), NonFinite> {
                Ok(())
            }
        }
    };
}
seq_impl!(SerializeSeq, serialize_element);
seq_impl!(SerializeTuple, serialize_element);
seq_impl!(SerializeTupleStruct, serialize_field);
seq_impl!(SerializeTupleVariant, serialize_field);

impl ser::SerializeMap for Seq<'_> {
    type Ok = ();
    type Error = NonFinite;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), NonFinite> {
        k.serialize(&mut *self.c)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), NonFinite> {
        self.element(v)
    }
    fn end(self) -> Result<(), NonFinite> {
        Ok(())
    }
}

impl ser::SerializeStruct for Seq<'_> {
    type Ok = ();
    type Error = NonFinite;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), NonFinite> {
        self.field(key, v)
    }
    fn end(self) -> Result<(), NonFinite> {
        Ok(())
    }
}

impl ser::SerializeStructVariant for Seq<'_> {
    type Ok = ();
    type Error = NonFinite;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), NonFinite> {
        self.field(key, v)
    }
    fn end(self) -> Result<(), NonFinite> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Inner {
        x: f64,
        y: Option<f64>,
    }
    #[derive(serde::Serialize)]
    struct Outer {
        items: Vec<Inner>,
    }

    #[test]
    fn finds_the_path_of_a_nan() {
        let ok = Outer {
            items: vec![Inner { x: 1.0, y: None }],
        };
        assert!(check(&ok).is_ok());
        let bad = Outer {
            items: vec![
                Inner { x: 1.0, y: None },
                Inner {
                    x: 2.0,
                    y: Some(f64::NAN),
                },
            ],
        };
        let e = check(&bad).unwrap_err();
        assert!(e.0.contains(".items[1].y"), "{}", e.0);
    }
}
