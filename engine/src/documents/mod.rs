//! Documents: notices, letters and tables rendered with MiniJinja. The only place templates
//! are parsed or rendered.
