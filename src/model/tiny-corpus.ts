// Built-in Russian + English text the test model's tokenizer is learned from (lead-like sentences,
// both scripts, digits and punctuation), so common words become multi-byte tokens.
export const TINY_CORPUS = `
Новая заявка от клиента: нужна поставка офисной мебели в Москву до конца месяца.
Клиент просит перезвонить после обеда, интересуется ценой и сроками доставки.
Компания ищет подрядчика для ремонта склада площадью 1200 квадратных метров.
Запрос коммерческого предложения на разработку мобильного приложения для магазина.
Требуется консультация по подключению интернета в новом офисе на Невском проспекте.
Покупатель хочет оформить заказ на 50 ноутбуков с доставкой в Санкт-Петербург.
Менеджер отметил, что клиент готов подписать договор на следующей неделе.
Нужна оценка стоимости проекта, бюджет ограничен, срок запуска весной.
Заявка с сайта: просят прислать каталог и прайс-лист на электронную почту.
Отдел продаж передал контакт директора, встреча назначена на вторник в 10:00.
Поиск лидов по описанию: строительство, логистика, розничная торговля, услуги.
Это тестовая модель со случайными весами, она не понимает смысл текста.
New lead from the website: the customer needs office furniture delivered to Moscow by the end of the month.
The client asked us to call back after lunch and wants to know the price and delivery time.
A company is looking for a contractor to renovate a warehouse of 1200 square meters.
Request for a commercial proposal to build a mobile application for an online store.
The buyer wants to order 50 laptops with delivery to Saint Petersburg next week.
The sales manager noted that the client is ready to sign the contract on Tuesday.
We need a cost estimate for the project; the budget is limited and the launch is in spring.
Search leads by description: construction, logistics, retail, services, software, marketing.
This is a test model with random weights; it does not understand the meaning of text.
Please send the catalogue and the price list to the email address in the form.
Мы получили ваше сообщение и ответим в течение одного рабочего дня. Спасибо!
The quick brown fox jumps over the lazy dog. Съешь же ещё этих мягких французских булок, да выпей чаю.
`;
