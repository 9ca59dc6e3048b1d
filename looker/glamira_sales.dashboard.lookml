# The offline dashboard (tasks/glamira/dashboard.py, reports/glamira-dashboard.html) in
# Looker: the same cards and charts on the same marts, with filters for the date, store,
# buyer country and device type. tests/integration/test_looker.py compiles every element's
# query from the views and checks its figures against the offline dashboard's queries.
- dashboard: glamira_sales
  title: Glamira sales
  description: "Revenue, orders, buyer countries, stores, top products, device mix and the purchase funnel, from the dbt marts."
  layout: newspaper
  preferred_viewer: dashboards-next
  crossfilter_enabled: true

  filters:
  - name: date
    title: Date
    type: field_filter
    default_value: ""
    allow_multiple_values: true
    required: false
    ui_config:
      type: advanced
      display: popover
    model: glamira
    explore: sales
    listens_to_filters: []
    field: fct_sales_order_line.order_date
  - name: store
    title: Store
    type: field_filter
    default_value: ""
    allow_multiple_values: true
    required: false
    ui_config:
      type: tag_list
      display: popover
    model: glamira
    explore: sales
    listens_to_filters: []
    field: dim_store.domain
  - name: country
    title: Buyer country
    type: field_filter
    default_value: ""
    allow_multiple_values: true
    required: false
    ui_config:
      type: tag_list
      display: popover
    model: glamira
    explore: sales
    listens_to_filters: []
    field: dim_location.country
  - name: device
    title: Device type
    type: field_filter
    default_value: ""
    allow_multiple_values: true
    required: false
    ui_config:
      type: checkboxes
      display: popover
    model: glamira
    explore: sales
    listens_to_filters: []
    field: dim_device.device_type

  elements:

  # -- headline cards (the events have no buyer country: the product views card ignores it)

  - name: revenue
    title: Revenue
    note_text: "USD, lines with a parsed price and a supported quantity"
    model: glamira
    explore: sales
    type: single_value
    fields: [fct_sales_order_line.revenue_usd]
    value_format: "$#,##0"
    listen:
      date: fct_sales_order_line.order_date
      store: dim_store.domain
      country: dim_location.country
      device: dim_device.device_type
    row: 0
    col: 0
    width: 6
    height: 3

  - name: orders
    title: Orders
    model: glamira
    explore: sales
    type: single_value
    fields: [fct_sales_order_line.orders]
    listen:
      date: fct_sales_order_line.order_date
      store: dim_store.domain
      country: dim_location.country
      device: dim_device.device_type
    row: 0
    col: 6
    width: 6
    height: 3

  - name: average_order_value
    title: Average order value
    note_text: "Revenue over the orders with at least one line priced in USD"
    model: glamira
    explore: sales
    type: single_value
    fields: [fct_sales_order_line.average_order_value_usd]
    value_format: "$#,##0.00"
    listen:
      date: fct_sales_order_line.order_date
      store: dim_store.domain
      country: dim_location.country
      device: dim_device.device_type
    row: 0
    col: 12
    width: 6
    height: 3

  - name: product_views
    title: Product views
    model: glamira
    explore: events
    type: single_value
    fields: [fct_daily_events.product_views]
    listen:
      date: fct_daily_events.event_date
      store: dim_store.domain
      device: fct_daily_events.device_type
    row: 0
    col: 18
    width: 6
    height: 3

  - name: lines
    title: Order lines
    model: glamira
    explore: sales
    type: single_value
    fields: [fct_sales_order_line.lines]
    listen:
      date: fct_sales_order_line.order_date
      store: dim_store.domain
      country: dim_location.country
      device: dim_device.device_type
    row: 3
    col: 0
    width: 8
    height: 3

  - name: units
    title: Units
    model: glamira
    explore: sales
    type: single_value
    fields: [fct_sales_order_line.units]
    listen:
      date: fct_sales_order_line.order_date
      store: dim_store.domain
      country: dim_location.country
      device: dim_device.device_type
    row: 3
    col: 8
    width: 8
    height: 3

  - name: unsupported_prices
    title: Unsupported prices
    note_text: "Lines left out of revenue: price unreadable or missing, quantity out of bounds, or store unknown"
    model: glamira
    explore: sales
    type: single_value
    fields: [fct_sales_order_line.unsupported_price_lines]
    listen:
      date: fct_sales_order_line.order_date
      store: dim_store.domain
      country: dim_location.country
      device: dim_device.device_type
    row: 3
    col: 16
    width: 8
    height: 3

  # -- revenue and orders by day: revenue as bars, orders as a line on the right axis

  - name: revenue_by_day
    title: Revenue and orders by day
    model: glamira
    explore: sales
    type: looker_column
    fields: [fct_sales_order_line.order_date, fct_sales_order_line.revenue_usd, fct_sales_order_line.orders]
    sorts: [fct_sales_order_line.order_date]
    limit: 5000
    series_types:
      fct_sales_order_line.orders: line
    series_colors:
      fct_sales_order_line.revenue_usd: "#1d4ed8"
      fct_sales_order_line.orders: "#d97706"
    y_axes:
    - label: Revenue (USD)
      orientation: left
      series:
      - axisId: fct_sales_order_line.revenue_usd
        id: fct_sales_order_line.revenue_usd
        name: Revenue (USD)
    - label: Orders
      orientation: right
      series:
      - axisId: fct_sales_order_line.orders
        id: fct_sales_order_line.orders
        name: Orders
    x_axis_gridlines: false
    y_axis_gridlines: true
    show_value_labels: false
    legend_position: center
    listen:
      date: fct_sales_order_line.order_date
      store: dim_store.domain
      country: dim_location.country
      device: dim_device.device_type
    row: 6
    col: 0
    width: 24
    height: 8

  # -- where the buyers are, which stores sell

  - name: revenue_by_country
    title: Revenue by buyer country
    note_text: "The buyer's country from the order's IP address; Unknown when private, reserved, invalid or not located"
    model: glamira
    explore: sales
    type: looker_bar
    fields: [dim_location.country, fct_sales_order_line.revenue_usd, fct_sales_order_line.orders,
      fct_sales_order_line.lines]
    sorts: [fct_sales_order_line.revenue_usd desc]
    limit: 500
    hidden_fields: [fct_sales_order_line.orders, fct_sales_order_line.lines]
    series_colors:
      fct_sales_order_line.revenue_usd: "#1d4ed8"
    show_value_labels: true
    listen:
      date: fct_sales_order_line.order_date
      store: dim_store.domain
      country: dim_location.country
      device: dim_device.device_type
    row: 14
    col: 0
    width: 12
    height: 9

  - name: revenue_by_store
    title: Revenue by store
    note_text: "Each store is a domain with its own currency; revenue converted to USD"
    model: glamira
    explore: sales
    type: looker_bar
    fields: [dim_store.domain, dim_store.currency, fct_sales_order_line.revenue_usd,
      fct_sales_order_line.orders, fct_sales_order_line.lines]
    sorts: [fct_sales_order_line.revenue_usd desc]
    limit: 500
    hidden_fields: [fct_sales_order_line.orders, fct_sales_order_line.lines]
    series_colors:
      fct_sales_order_line.revenue_usd: "#1d4ed8"
    show_value_labels: true
    listen:
      date: fct_sales_order_line.order_date
      store: dim_store.domain
      country: dim_location.country
      device: dim_device.device_type
    row: 14
    col: 12
    width: 12
    height: 9

  # -- products

  - name: top_products
    title: Top 10 products by revenue
    note_text: "Names from the product-page crawl; products never named show their id"
    model: glamira
    explore: sales
    type: looker_bar
    fields: [dim_product.name, dim_product.product_id, fct_sales_order_line.revenue_usd,
      fct_sales_order_line.orders, fct_sales_order_line.units]
    sorts: [fct_sales_order_line.revenue_usd desc, fct_sales_order_line.orders desc, dim_product.product_id]
    limit: 10
    hidden_fields: [dim_product.product_id, fct_sales_order_line.orders, fct_sales_order_line.units]
    series_colors:
      fct_sales_order_line.revenue_usd: "#1d4ed8"
    show_value_labels: true
    listen:
      date: fct_sales_order_line.order_date
      store: dim_store.domain
      country: dim_location.country
      device: dim_device.device_type
    row: 23
    col: 0
    width: 24
    height: 8

  # -- device mix: share of orders (order lines) beside share of events (website events)

  - name: orders_by_device
    title: Orders by device type
    note_text: "Share of orders by the buyer's device type (from the user agent)"
    model: glamira
    explore: sales
    type: looker_bar
    fields: [dim_device.device_type, fct_sales_order_line.orders, fct_sales_order_line.revenue_usd]
    sorts: [fct_sales_order_line.orders desc]
    limit: 500
    dynamic_fields:
    - table_calculation: share_of_orders
      label: Share of orders
      expression: "${fct_sales_order_line.orders} / sum(${fct_sales_order_line.orders})"
      value_format_name: percent_1
      _kind_hint: measure
      _type_hint: number
    hidden_fields: [fct_sales_order_line.orders, fct_sales_order_line.revenue_usd]
    series_colors:
      share_of_orders: "#1d4ed8"
    show_value_labels: true
    listen:
      date: fct_sales_order_line.order_date
      store: dim_store.domain
      country: dim_location.country
      device: dim_device.device_type
    row: 31
    col: 0
    width: 12
    height: 7

  - name: events_by_device
    title: Events by device type
    note_text: "Share of all tracked events; a device type with many more events than orders browses more than it buys"
    model: glamira
    explore: events
    type: looker_bar
    fields: [fct_daily_events.device_type, fct_daily_events.events]
    sorts: [fct_daily_events.events desc]
    limit: 500
    dynamic_fields:
    - table_calculation: share_of_events
      label: Share of events
      expression: "${fct_daily_events.events} / sum(${fct_daily_events.events})"
      value_format_name: percent_1
      _kind_hint: measure
      _type_hint: number
    hidden_fields: [fct_daily_events.events]
    series_colors:
      share_of_events: "#d97706"
    show_value_labels: true
    listen:
      date: fct_daily_events.event_date
      store: dim_store.domain
      device: fct_daily_events.device_type
    row: 31
    col: 12
    width: 12
    height: 7

  # -- the purchase funnel: events, not people (a step can exceed the one before it)

  - name: funnel
    title: Purchase funnel
    note_text: "Events at each step over the period, with each step's rate from the previous one"
    model: glamira
    explore: events
    type: looker_funnel
    fields: [fct_daily_events.product_views, fct_daily_events.option_selections, fct_daily_events.add_to_cart,
      fct_daily_events.checkouts, fct_daily_events.checkout_successes]
    limit: 1
    orientation: automatic
    percentType: prior
    percentPosition: inline
    valuePosition: right
    labelPosition: left
    smoothedBars: false
    labelColorEnabled: false
    listen:
      date: fct_daily_events.event_date
      store: dim_store.domain
      device: fct_daily_events.device_type
    row: 38
    col: 0
    width: 12
    height: 8

  - name: funnel_by_day
    title: Funnel by day
    note_text: "Step-to-step conversion per day, and product views to checkout success overall"
    model: glamira
    explore: events
    type: looker_line
    fields: [fct_daily_events.event_date, fct_daily_events.view_to_option, fct_daily_events.option_to_cart,
      fct_daily_events.cart_to_checkout, fct_daily_events.checkout_to_success, fct_daily_events.view_to_success]
    sorts: [fct_daily_events.event_date]
    limit: 5000
    series_colors:
      fct_daily_events.view_to_option: "#1d4ed8"
      fct_daily_events.option_to_cart: "#d97706"
      fct_daily_events.cart_to_checkout: "#7c3aed"
      fct_daily_events.checkout_to_success: "#0891b2"
      fct_daily_events.view_to_success: "#047857"
    y_axis_value_format: "0%"
    listen:
      date: fct_daily_events.event_date
      store: dim_store.domain
      device: fct_daily_events.device_type
    row: 38
    col: 12
    width: 12
    height: 8
