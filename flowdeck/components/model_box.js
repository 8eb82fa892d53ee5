// The Model box: a text field holding the model string itself (never a description of it), with suggestions
// under it. Typing filters them; Enter keeps what was typed unless a suggestion was picked with the arrows
// (QSelect's Enter picked the option it highlighted on opening, so "scripted" typed over "scripted/delay=1"
// kept the old model, and its field showed labels that typing then extended into "Default (embedded)scripted").
export default {
  template: `
    <div :class="$attrs.class" :style="$attrs.style">
      <q-input
        ref="qRef"
        v-bind="fieldAttrs"
        v-model="inputValue"
        role="combobox"
        aria-autocomplete="list"
        :aria-expanded="listed ? 'true' : 'false'"
        :aria-controls="listId"
        :aria-activedescendant="listed && active >= 0 ? optionId(active) : undefined"
        @focus="query = null"
        @mousedown="grab"
        @blur="open = false"
        @click="open = true"
        @keydown="keydown"
        @update:model-value="typed"
      >
        <template v-slot:append>
          <q-icon name="arrow_drop_down" class="cursor-pointer" aria-hidden="true" @mousedown.prevent @click.stop="toggle" />
        </template>
      </q-input>
      <q-menu :model-value="listed" @update:model-value="(visible) => (open = visible)" no-focus no-refocus no-parent-event fit anchor="bottom left" self="top left" max-height="18rem">
        <q-list :id="listId" role="listbox" aria-label="Suggestions" dense>
          <q-item
            v-for="(option, i) in shown"
            :key="option.value"
            :id="optionId(i)"
            role="option"
            :aria-selected="i === active ? 'true' : 'false'"
            :focused="i === active"
            :active="option.value === inputValue"
            clickable
            @mousedown.prevent
            @click="pick(option)"
          >
            <q-item-section>
              <q-item-label>{{ option.label }}</q-item-label>
              <q-item-label caption v-if="option.value && option.value !== option.label">{{ option.value }}</q-item-label>
            </q-item-section>
          </q-item>
        </q-list>
      </q-menu>
    </div>
  `,
  inheritAttrs: false,
  props: {
    value: String,
    id: String,
    options: Array,
  },
  data() {
    return { inputValue: this.value, emitting: true, open: false, query: null, active: -1 };
  },
  computed: {
    fieldAttrs() {
      const { class: _, style: __, ...rest } = this.$attrs;
      return rest;
    },
    listId() {
      return this.id + "-suggestions";
    },
    listed() {
      return this.open && this.shown.length > 0;
    },
    shown() {
      const needle = (this.query || "").trim().toLocaleLowerCase();
      if (!needle) return this.options;
      return this.options.filter((o) => `${o.value} ${o.label}`.toLocaleLowerCase().includes(needle));
    },
  },
  watch: {
    value(newValue) {
      this.emitting = false;
      this.inputValue = newValue;
      this.$nextTick(() => (this.emitting = true));
    },
    inputValue(newValue) {
      if (this.emitting) this.$emit("update:value", newValue);
    },
    active(index) {
      if (index >= 0) this.$nextTick(() => document.getElementById(this.optionId(index))?.scrollIntoView({ block: "nearest" }));
    },
  },
  methods: {
    updateValue() {
      this.inputValue = this.value;
    },
    optionId(index) {
      return `${this.listId}-${index}`;
    },
    field() {
      return this.$refs.qRef?.getNativeElement();
    },
    focus() {
      this.field()?.focus();
    },
    grab(e) {
      // A click into the box selects what it holds, so that typing replaces it (as in a browser's address bar);
      // Tab selects it already. Done here, not after the click's caret placement: keys typed at once would race.
      const field = this.field();
      if (!field || document.activeElement === field) return;
      e.preventDefault();
      field.focus();
      field.select();
    },
    typed(text) {
      this.query = text;
      this.active = -1;
      this.open = true;
    },
    toggle() {
      this.query = null;
      this.open = !this.open;
      this.field()?.focus();
    },
    pick(option) {
      this.inputValue = option.value;
      this.query = null;
      this.active = -1;
      this.open = false;
      this.$nextTick(() => {
        const field = this.field();
        field?.focus();
        field?.setSelectionRange(field.value.length, field.value.length);
      });
    },
    keydown(e) {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const count = this.shown.length;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        if (!this.open) {
          this.open = true;
          return;
        }
        const step = e.key === "ArrowDown" ? 1 : -1;
        this.active = Math.max(-1, Math.min(count - 1, this.active + step));
      } else if (e.key === "Enter") {
        e.preventDefault();
        if (this.open && this.active >= 0 && this.active < count) this.pick(this.shown[this.active]);
        else this.open = false;
      } else if (e.key === "Escape" && this.open) {
        e.stopPropagation();
        this.open = false;
      } else if (e.key === "Tab") {
        this.open = false;
      }
    },
  },
};
