//! SQL implementations of the store traits (one SQL text for both backends).
