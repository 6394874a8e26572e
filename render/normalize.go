package render

import "reflect"

// fillEmpty replaces nil slices and maps inside v (a pointer) with empty
// ones, so templates see [] and {} rather than null for settings that were
// left out.
func fillEmpty(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			fillEmpty(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fillEmpty(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.IsNil() && v.CanSet() {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		for i := 0; i < v.Len(); i++ {
			fillEmpty(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() && v.CanSet() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		for it := v.MapRange(); it.Next(); {
			if e := it.Value(); e.Kind() == reflect.Pointer {
				fillEmpty(e)
			}
		}
	}
}
